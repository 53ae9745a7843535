#!/usr/bin/python3
"""make_mbox.py N FILE - an mbox of N varied messages for the import bench.

Deterministic (seeded): plain-text and multipart/alternative messages of
1 to 6 KB, one in ten with a small attachment, one in fifty with a
"From " line in the body (escaped, mboxrd), dates one minute apart.
"""
import base64
import datetime
import email.utils
import random
import sys

WORDS = ("meeting budget report quarterly draft review schedule contract "
         "invoice delivery project update minutes agenda forecast team "
         "customer order shipment holiday plan design release").split()


def text(rnd, n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def lines(s, width=72):
    out, cur = [], ""
    for w in s.split():
        if len(cur) + len(w) + 1 > width:
            out.append(cur)
            cur = w
        else:
            cur = (cur + " " + w).strip()
    return "\n".join(out + [cur])


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(42)
    t0 = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
    with open(path, "w") as f:
        for i in range(n):
            date = email.utils.format_datetime(t0 + datetime.timedelta(minutes=i))
            body = lines(text(rnd, rnd.randint(120, 900)))
            if i % 50 == 0:
                body += "\nFrom the desk of the director\n"
            head = ("From: %s <u%d@example.org>\nTo: alice@example.test\n"
                    "Subject: %s %d\nDate: %s\nMessage-ID: <bench-%d@example.org>\n"
                    "MIME-Version: 1.0\n" % (text(rnd, 2).title(), i % 500,
                                              text(rnd, 4).capitalize(), i, date, i))
            if i % 10 == 0:
                att = base64.encodebytes(rnd.randbytes(600)).decode()
                msg = head + ("Content-Type: multipart/mixed; boundary=b%d\n\n"
                              "--b%d\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                              "--b%d\nContent-Type: application/octet-stream; name=a%d.bin\n"
                              "Content-Transfer-Encoding: base64\n"
                              "Content-Disposition: attachment; filename=a%d.bin\n\n%s"
                              "--b%d--\n" % (i, i, body, i, i, i, att, i))
            elif i % 3 == 0:
                html = "<html><body><p>%s</p></body></html>" % body.replace("\n", " ")
                msg = head + ("Content-Type: multipart/alternative; boundary=a%d\n\n"
                              "--a%d\nContent-Type: text/plain; charset=utf-8\n\n%s\n"
                              "--a%d\nContent-Type: text/html; charset=utf-8\n\n%s\n"
                              "--a%d--\n" % (i, i, body, i, html, i))
            else:
                msg = head + "Content-Type: text/plain; charset=utf-8\n\n" + body + "\n"
            f.write("From MAILER-DAEMON Wed Jan  1 00:00:00 2020\n")
            for line in msg.split("\n")[:-1]:
                if line.lstrip(">").startswith("From "):
                    line = ">" + line
                f.write(line + "\n")
            f.write("\n")


if __name__ == "__main__":
    main()
