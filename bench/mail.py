#!/usr/bin/env python3
"""Benchmark mail intake on a running binary.

Starts `watchbill serve --demo` (release build) on a fresh SQLite file (or the PostgreSQL
database given with --database-url, which should be empty) and measures:

1. Throughput: 8 parallel SMTP clients (Python's smtplib, one connection each) send messages to
   maintenance@demo.watchbill.test; each is answered 250 only after its ticket is committed.
   Prints messages accepted per second.
2. Latency: messages to urgent@demo.watchbill.test, each from a new sender (so none joins an
   earlier incident), page the User-facing Captain On-Call, whose contact method is pointed at
   a local webhook receiver. Prints the time from the end of DATA (the client's last byte) to
   the page's arrival: p50 and p99 over the runs.

Usage: python3 bench/mail.py [--binary target/release/watchbill] [--messages 4000] [--pages 50]
"""
import argparse
import http.server
import shutil
import smtplib
import statistics
import tempfile
import threading
import time

from server import request, start

def message(sender, recipient, subject):
    return (f"From: {sender}\r\nTo: {recipient}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@bench.example>\r\n\r\n"
            "The course page answers 500 for some students since 12:03.\r\n").encode()


def throughput(host, port, messages, clients=8):
    per_client = messages // clients
    errors = []

    def client(n):
        try:
            server = smtplib.SMTP(host, port, timeout=60)
            for i in range(per_client):
                server.sendmail(f"sender{n}@bench.example", ["maintenance@demo.watchbill.test"],
                                message(f"sender{n}@bench.example", "maintenance@demo.watchbill.test", f"duty {n} {i}"))
            server.quit()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"clients failed: {errors[:3]}")
    return per_client * clients, elapsed


class Receiver(http.server.BaseHTTPRequestHandler):
    arrivals = []

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        if b"incident.page" in body:
            Receiver.arrivals.append((time.perf_counter(), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default="target/release/watchbill")
    parser.add_argument("--database-url")
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--pages", type=int, default=50)
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="watchbill-bench-")
    database = args.database_url or f"sqlite://{workdir}/bench.db"
    server, url, smtp = start(args.binary, database, "--demo")
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        host, port = smtp.rsplit(":", 1)
        port = int(port)

        count, elapsed = throughput(host, port, args.messages)
        print(f"throughput: {count} messages from 8 clients in {elapsed:.2f} s = {count / elapsed:.0f} messages/s")

        oncall = request(f"{url}/api/v1/oncall?team=User-facing")
        captain = next(s for s in oncall["schedules"] if s["schedule_name"] == "Captain On-Call")["user"]
        hook = f"http://127.0.0.1:{receiver.server_address[1]}/page"
        request(f"{url}/api/v1/users/{captain['id']}/contact-methods", "POST", {"kind": "webhook", "address": hook})
        for method in request(f"{url}/api/v1/users/{captain['id']}/contact-methods"):
            if method["kind"] != "webhook":
                request(f"{url}/api/v1/users/{captain['id']}/contact-methods/{method['id']}", "DELETE")
        latencies = []
        connection = smtplib.SMTP(host, port, timeout=60)
        for n in range(args.pages):
            before = len(Receiver.arrivals)
            subject = f"urgent {n}"
            data = message(f"reporter{n}@bench.example", "urgent@demo.watchbill.test", subject)
            connection.ehlo()
            connection.mail(f"reporter{n}@bench.example")
            connection.rcpt("urgent@demo.watchbill.test")
            # smtplib.data sends the message and the final dot; the clock starts as it is called.
            started = time.perf_counter()
            code, _ = connection.data(data)
            if code != 250:
                raise SystemExit(f"refused: {code}")
            deadline = time.time() + 10
            while len(Receiver.arrivals) == before and time.time() < deadline:
                time.sleep(0.0005)
            if len(Receiver.arrivals) == before:
                raise SystemExit("no page arrived within 10 s")
            latencies.append((Receiver.arrivals[-1][0] - started) * 1000)
        connection.quit()
        latencies.sort()
        p50 = statistics.median(latencies)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(f"end of DATA to first page: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {latencies[-1]:.1f} ms over {len(latencies)} pages")
    finally:
        server.terminate()
        server.wait()
        receiver.shutdown()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
