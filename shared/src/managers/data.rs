//! The server's plain data objects: dict, list, array, namespace and value. None of them
//! waits: each operation runs under the object's mutex and answers at once.

use indexmap::IndexMap;

use super::protocol::{Bytes, Fault, Op, Reply, Response, Slice};
use super::server::wrong_method;

pub(super) fn dict_op(d: &mut IndexMap<Bytes, Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Len => Reply::Len(d.len() as u64),
        Op::Clear => {
            d.clear();
            Reply::Done
        }
        Op::Copy => Reply::Pairs(d.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Op::DictGet(k) => Reply::Maybe(d.get(&k).cloned()),
        Op::DictSet(k, v) => {
            // Python keeps a replaced key in its first place; IndexMap's insert does the same.
            d.insert(k, v);
            Reply::Done
        }
        // Python's `del`/`pop` keep the order of the remaining keys: shift, do not swap.
        Op::DictRemove(k) => Reply::Maybe(d.shift_remove(&k)),
        Op::DictContains(k) => Reply::Bool(d.contains_key(&k)),
        Op::DictKeys => Reply::Items(d.keys().cloned().collect()),
        Op::DictValues => Reply::Items(d.values().cloned().collect()),
        Op::DictUpdate(pairs) => {
            d.extend(pairs);
            Reply::Done
        }
        Op::DictSetDefault(k, v) => Reply::Item(d.entry(k).or_insert(v).clone()),
        op => return Err(wrong_method("dict", &op)),
    })
}

pub(super) fn list_op(l: &mut Vec<Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Len => Reply::Len(l.len() as u64),
        Op::Clear => {
            l.clear();
            Reply::Done
        }
        Op::Copy => Reply::Items(l.clone()),
        Op::ListGet(i) => Reply::Item(l[index(l.len(), i)?].clone()),
        Op::ListSet(i, v) => {
            let i = index(l.len(), i)?;
            l[i] = v;
            Reply::Done
        }
        Op::ListAppend(v) => {
            l.push(v);
            Reply::Done
        }
        Op::ListExtend(vs) => {
            l.extend(vs);
            Reply::Done
        }
        Op::ListInsert(i, v) => {
            // Python's insert clamps the index instead of failing.
            let len = i64::try_from(l.len()).unwrap_or(i64::MAX);
            let at = if i < 0 { (i + len).max(0) } else { i.min(len) };
            l.insert(usize::try_from(at).unwrap_or(0), v);
            Reply::Done
        }
        Op::ListPop(i) => {
            if l.is_empty() {
                return Err(Fault::other("pop from empty list"));
            }
            let i = index(l.len(), i.unwrap_or(-1))?;
            Reply::Item(l.remove(i))
        }
        Op::ListRemove(v) => match l.iter().position(|x| *x == v) {
            Some(i) => {
                l.remove(i);
                Reply::Done
            }
            None => return Err(Fault::other("list.remove(x): x not in list")),
        },
        Op::ListContains(v) => Reply::Bool(l.contains(&v)),
        Op::ListIndex(v) => match l.iter().position(|x| *x == v) {
            Some(i) => Reply::Len(i as u64),
            None => return Err(Fault::other("list.index(x): x is not in list")),
        },
        Op::ListGetSlice(slice) => Reply::Items(get_slice(l, slice)?),
        Op::ListSetSlice(slice, items) => {
            set_slice(l, slice, items, true)?;
            Reply::Done
        }
        Op::ListDelSlice(slice) => {
            let range = SliceRange::of(slice, l.len())?;
            if range.step == 1 {
                let (start, stop) = range.contiguous();
                l.drain(start..stop);
            } else {
                // From the back, so the indexes still to remove stay where they were.
                let mut at: Vec<usize> = range.indices().collect();
                at.sort_unstable();
                for i in at.into_iter().rev() {
                    l.remove(i);
                }
            }
            Reply::Done
        }
        op => return Err(wrong_method("list", &op)),
    })
}

/// A fixed-length array (CPython's manager serves an `array.array`): items are read and
/// replaced, never added or removed.
pub(super) fn array_op(a: &mut [Bytes], op: Op) -> Response {
    Ok(match op {
        Op::Len => Reply::Len(a.len() as u64),
        Op::Copy => Reply::Items(a.to_vec()),
        Op::ListGet(i) => Reply::Item(a[index(a.len(), i)?].clone()),
        Op::ListSet(i, v) => {
            let i = index(a.len(), i)?;
            a[i] = v;
            Reply::Done
        }
        Op::ListGetSlice(slice) => Reply::Items(get_slice(a, slice)?),
        Op::ListSetSlice(slice, items) => {
            let mut v = a.to_vec();
            set_slice(&mut v, slice, items, false)?;
            a.clone_from_slice(&v);
            Reply::Done
        }
        op => return Err(wrong_method("Array", &op)),
    })
}

/// Python's `slice.indices(len)`: where a slice starts and stops, and its step, in a sequence
/// of `len` items.
struct SliceRange {
    start: i64,
    stop: i64,
    step: i64,
}

impl SliceRange {
    fn of(slice: Slice, len: usize) -> Result<SliceRange, Fault> {
        let len = i64::try_from(len).unwrap_or(i64::MAX);
        let step = slice.step.unwrap_or(1);
        if step == 0 {
            return Err(Fault::other("slice step cannot be zero"));
        }
        let (lower, upper) = if step < 0 { (-1, len - 1) } else { (0, len) };
        let clamp = |bound: Option<i64>, default: i64| match bound {
            None => default,
            Some(b) if b < 0 => (b.saturating_add(len)).max(lower),
            Some(b) => b.min(upper),
        };
        let start = clamp(slice.start, if step < 0 { upper } else { lower });
        let stop = clamp(slice.stop, if step < 0 { lower } else { upper });
        Ok(SliceRange { start, stop, step })
    }

    /// How many items the slice selects.
    fn len(&self) -> usize {
        let n = if self.step > 0 && self.start < self.stop {
            (self.stop - self.start - 1) / self.step + 1
        } else if self.step < 0 && self.start > self.stop {
            (self.start - self.stop - 1) / (-self.step) + 1
        } else {
            0
        };
        usize::try_from(n).unwrap_or(0)
    }

    /// The indexes the slice selects, in its order.
    fn indices(&self) -> impl Iterator<Item = usize> + use<> {
        let (start, step) = (self.start, self.step);
        (0..self.len()).map(move |k| usize::try_from(start + step * k as i64).unwrap_or(0))
    }

    /// The `start..stop` of a step-1 slice, empty (at `start`) when `stop` is before it.
    fn contiguous(&self) -> (usize, usize) {
        let start = usize::try_from(self.start).unwrap_or(0);
        let stop = usize::try_from(self.stop).unwrap_or(0).max(start);
        (start, stop)
    }
}

fn get_slice(items: &[Bytes], slice: Slice) -> Result<Vec<Bytes>, Fault> {
    let range = SliceRange::of(slice, items.len())?;
    Ok(range.indices().map(|i| items[i].clone()).collect())
}

/// Python's `seq[slice] = new`: a step-1 slice may change the length when `resizable`; an
/// extended slice takes exactly as many items as it selects.
fn set_slice(items: &mut Vec<Bytes>, slice: Slice, new: Vec<Bytes>, resizable: bool) -> Result<(), Fault> {
    let range = SliceRange::of(slice, items.len())?;
    if range.step == 1 && resizable {
        let (start, stop) = range.contiguous();
        items.splice(start..stop, new);
        return Ok(());
    }
    if new.len() != range.len() {
        return Err(Fault::other(if range.step == 1 {
            format!(
                "an Array's length is fixed: cannot assign {} items to a slice of {}",
                new.len(),
                range.len()
            )
        } else {
            format!(
                "attempt to assign sequence of size {} to extended slice of size {}",
                new.len(),
                range.len()
            )
        }));
    }
    for (i, item) in range.indices().zip(new) {
        items[i] = item;
    }
    Ok(())
}

/// Python's index rules: negative counts from the end; out of range is an `IndexError`.
fn index(len: usize, i: i64) -> Result<usize, Fault> {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let at = if i < 0 { i + len_i } else { i };
    if (0..len_i).contains(&at) {
        Ok(usize::try_from(at).unwrap_or(0))
    } else {
        Err(Fault::other(format!(
            "list index {i} out of range (length {len})"
        )))
    }
}

pub(super) fn namespace_op(ns: &mut IndexMap<String, Bytes>, op: Op) -> Response {
    Ok(match op {
        Op::Copy => Reply::Names(ns.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        Op::NsGet(name) => match ns.get(&name) {
            Some(v) => Reply::Item(v.clone()),
            None => {
                return Err(Fault::other(format!(
                    "'Namespace' object has no attribute {name:?}"
                )));
            }
        },
        Op::NsSet(name, v) => {
            ns.insert(name, v);
            Reply::Done
        }
        Op::NsDel(name) => match ns.shift_remove(&name) {
            Some(_) => Reply::Done,
            None => {
                return Err(Fault::other(format!(
                    "'Namespace' object has no attribute {name:?}"
                )));
            }
        },
        op => return Err(wrong_method("Namespace", &op)),
    })
}

pub(super) fn value_op(v: &mut Bytes, op: Op) -> Response {
    Ok(match op {
        Op::ValueGet => Reply::Item(v.clone()),
        Op::ValueSet(new) => {
            *v = new;
            Reply::Done
        }
        op => return Err(wrong_method("Value", &op)),
    })
}
