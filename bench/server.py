"""What the benchmark scripts share: starting `watchbill serve` and calling its API."""
import json
import os
import re
import subprocess
import urllib.request

TOKEN = "bench-bootstrap-token-0123456789"


def request(url, method="GET", body=None):
    """Calls the API with the bootstrap admin token; answers the parsed body."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Authorization", f"Bearer {TOKEN}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req) as response:
        return json.loads(response.read() or b"null")


def start(binary, database, *extra):
    """Starts the server on free ports and reads its banner: (process, HTTP URL, SMTP address)."""
    env = dict(os.environ, WATCHBILL_BOOTSTRAP_TOKEN=TOKEN, WATCHBILL_LOG="warn")
    process = subprocess.Popen(
        [binary, "serve", *extra, "--listen", "127.0.0.1:0", "--smtp-listen", "127.0.0.1:0",
         "--database-url", database],
        stdout=subprocess.PIPE, text=True, env=env)
    url, smtp = None, None
    for line in process.stdout:
        match = re.search(r"is listening on (\S+)", line)
        if match:
            url = match.group(1)
        match = re.search(r"mail intake \(SMTP\) on (\S+)", line)
        if match:
            smtp = match.group(1)
        if line.strip() == "Press Ctrl-C to stop.":
            break
    return process, url, smtp
