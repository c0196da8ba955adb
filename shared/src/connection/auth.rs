//! The HMAC handshake that proves both ends of a connection hold the same authkey: CPython's
//! `deliver_challenge` and `answer_challenge` (3.12's `{sha256}` form).
//!
//! 1. the server sends `#CHALLENGE#{sha256}` followed by 40 random bytes;
//! 2. the client answers `{sha256}` followed by HMAC-SHA256(authkey, the challenge after
//!    `#CHALLENGE#`);
//! 3. the server compares in constant time and sends `#WELCOME#` or `#FAILURE#`;
//! 4. then the roles swap, so the client also knows the server holds the key.
//!
//! The key itself never crosses the wire. As in CPython, the handshake authenticates but does
//! not encrypt.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::Connection;
use crate::error::{Error, Result};

/// How long one side of the handshake waits for the other before giving up, so a peer that
/// connects and says nothing cannot hold a server thread forever.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(20);

/// The server's half of the mutual handshake: challenge the client, then answer its challenge.
pub(crate) fn authenticate_server(conn: &Connection, authkey: &[u8]) -> Result<()> {
    deliver_challenge(conn, authkey)?;
    answer_challenge(conn, authkey)
}

/// The client's half of the mutual handshake: answer the server's challenge, then challenge it.
pub(crate) fn authenticate_client(conn: &Connection, authkey: &[u8]) -> Result<()> {
    answer_challenge(conn, authkey)?;
    deliver_challenge(conn, authkey)
}

const CHALLENGE: &[u8] = b"#CHALLENGE#";
const WELCOME: &[u8] = b"#WELCOME#";
const FAILURE: &[u8] = b"#FAILURE#";
const DIGEST: &[u8] = b"{sha256}";
/// CPython's `MESSAGE_LENGTH`: 40 random bytes per challenge.
const MESSAGE_LENGTH: usize = 40;
/// CPython reads handshake messages with `recv_bytes(256)`; anything longer is not a handshake.
const MAX_HANDSHAKE_MESSAGE: usize = 256;

type HmacSha256 = Hmac<Sha256>;

/// Sends a random challenge and checks that the peer answers it with `authkey`, like CPython's
/// `multiprocessing.connection.deliver_challenge`. The comparison is constant-time.
///
/// # Errors
/// [`Error::Authentication`] when the answer is wrong (the peer is told `#FAILURE#`), or when the
/// peer does not answer within 20 seconds or closes; [`Error::Os`] if no randomness is available.
///
/// # Examples
///
/// ```
/// use multiprocessing::{answer_challenge, deliver_challenge, Pipe};
///
/// let (a, b) = Pipe(true)?;
/// let server = std::thread::spawn(move || deliver_challenge(&a, b"key"));
/// answer_challenge(&b, b"key")?;
/// server.join().unwrap()?;
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn deliver_challenge(conn: &Connection, authkey: &[u8]) -> Result<()> {
    let mut message = Vec::with_capacity(DIGEST.len() + MESSAGE_LENGTH);
    message.extend_from_slice(DIGEST);
    let mut random = [0u8; MESSAGE_LENGTH];
    getrandom::fill(&mut random).map_err(|e| Error::os("reading random bytes for a challenge", e.into()))?;
    message.extend_from_slice(&random);

    let mut challenge = CHALLENGE.to_vec();
    challenge.extend_from_slice(&message);
    conn.send_bytes(&challenge)
        .map_err(|e| handshake_failed("sending the challenge", e))?;
    let response = recv_handshake(conn, "the answer to our challenge")?;

    let verified = response
        .strip_prefix(DIGEST)
        .is_some_and(|mac| hmac_of(authkey, &message).verify_slice(mac).is_ok());
    if verified {
        conn.send_bytes(WELCOME)
            .map_err(|e| handshake_failed("sending #WELCOME#", e))
    } else {
        // The peer may already be gone; the error we return is what matters.
        let _ = conn.send_bytes(FAILURE);
        Err(Error::Authentication(
            "digest received was wrong: the peer does not hold the authkey".into(),
        ))
    }
}

/// Answers the peer's challenge with `authkey` and waits for its verdict, like CPython's
/// `multiprocessing.connection.answer_challenge`.
///
/// # Errors
/// [`Error::Authentication`] when the peer rejects the answer (the keys differ), sends something
/// that is not a challenge, or does not answer within 20 seconds.
///
/// # Examples
///
/// ```
/// use multiprocessing::{answer_challenge, deliver_challenge, Pipe};
///
/// let (a, b) = Pipe(true)?;
/// let server = std::thread::spawn(move || deliver_challenge(&a, b"right"));
/// let err = answer_challenge(&b, b"wrong").unwrap_err();
/// assert!(err.to_string().contains("rejected"), "{err}");
/// assert!(server.join().unwrap().is_err());
/// # Ok::<(), multiprocessing::Error>(())
/// ```
pub fn answer_challenge(conn: &Connection, authkey: &[u8]) -> Result<()> {
    let challenge = recv_handshake(conn, "a challenge")?;
    let Some(message) = challenge.strip_prefix(CHALLENGE) else {
        return Err(Error::Authentication(format!(
            "expected a challenge, got {} bytes that are not one (is the peer a manager server?)",
            challenge.len()
        )));
    };
    if !message.starts_with(DIGEST) {
        return Err(Error::Authentication(
            "the challenge asks for a digest other than {sha256}".into(),
        ));
    }
    let mut response = DIGEST.to_vec();
    response.extend_from_slice(&hmac_of(authkey, message).finalize().into_bytes());
    conn.send_bytes(&response)
        .map_err(|e| handshake_failed("sending our answer", e))?;
    let verdict = recv_handshake(conn, "the verdict on our answer")?;
    if verdict == WELCOME {
        Ok(())
    } else {
        Err(Error::Authentication(
            "digest sent was rejected: the authkey is wrong".into(),
        ))
    }
}

fn hmac_of(authkey: &[u8], message: &[u8]) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(authkey).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac
}

/// Receives one handshake message, bounded in time and size.
fn recv_handshake(conn: &Connection, what: &str) -> Result<Vec<u8>> {
    if !conn
        .poll(Some(HANDSHAKE_TIMEOUT))
        .map_err(|e| handshake_failed(&format!("waiting for {what}"), e))?
    {
        return Err(Error::Authentication(format!(
            "no {what} within {HANDSHAKE_TIMEOUT:?}"
        )));
    }
    let message = conn
        .recv_bytes()
        .map_err(|e| handshake_failed(&format!("receiving {what}"), e))?;
    if message.len() > MAX_HANDSHAKE_MESSAGE {
        return Err(Error::Authentication(format!(
            "{what} is {} bytes long, not a handshake message",
            message.len()
        )));
    }
    Ok(message)
}

fn handshake_failed(doing: &str, e: Error) -> Error {
    Error::Authentication(format!("authentication failed while {doing}: {e}"))
}
