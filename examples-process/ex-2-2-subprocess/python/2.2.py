import subprocess

result = subprocess.run(['echo', 'Hello, Python!'], capture_output=True, text=True)
print("命令输出:", result.stdout)
