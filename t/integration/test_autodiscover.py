#!/usr/bin/python3
"""test_autodiscover - Autodiscover as Outlook, phones and scanners use it.

POX (Outlook and mobilesync) is driven with curl, SOAP and the JSON v2
endpoint with xctest.request. Expected documents follow [MS-OXDSCLI] 2.2.4
and 4.4, [MS-ASCMD] 2.2.1.1 and [MS-OXWSADISC]: namespaces are matched
exactly (always http://, never the https:// of some documentation),
errors must be the shapes exchangelib and Outlook understand, and nothing
may tell a caller about mailboxes it cannot open.
t/run.sh configures `AutodiscoverRedirect redirect.test example.test` and
`AutodiscoverMaxRequestSize 16384`.
"""
import json
import os
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

import xctest
from xctest import ALICE, BOB, HTTPS, check

NS_RESP = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
NS_OUTLOOK = "http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a"
NS_MOBILE_REQ = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
NS_MOBILE = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
NS_SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
NS_ADISC = "http://schemas.microsoft.com/exchange/2010/Autodiscover"
NS_XSI = "http://www.w3.org/2001/XMLSchema-instance"

BASE = "https://localhost:%d" % HTTPS       # AutodiscoverBaseURL of the stack
EWS_URL = BASE + "/EWS/Exchange.asmx"
EAS_URL = BASE + "/Microsoft-Server-ActiveSync"
POX = "/autodiscover/autodiscover.xml"
SVC = "/autodiscover/autodiscover.svc"
JSON = "/autodiscover/autodiscover.json"
NOT_FOUND = "The email address can't be found."
MAX_BODY = 16384


# ------------------------------------------------------------ helpers ----
def curl(path, body=None, auth=ALICE, headers=(), https=False, method=None,
         chunked=False):
    """One request with curl: (status, headers, body, seconds). Credentials
    go through a config on stdin, never the command line."""
    with tempfile.TemporaryDirectory() as d:
        out, hdr, req = (os.path.join(d, n) for n in ("out", "hdr", "req"))
        port = HTTPS if https else xctest.HTTP
        cmd = ["curl", "-sS", "--max-time", "30", "-K", "-", "-o", out,
               "-D", hdr, "-w", "%{http_code}", "-H", "Expect:"]
        if https:
            cmd.append("-k")
        if method:
            cmd += ["-X", method]
        if body is not None:
            with open(req, "wb") as f:
                f.write(body)
            cmd += ["-H", "Content-Type: text/xml; charset=utf-8",
                    "--data-binary", "@" + req]
        if chunked:
            cmd += ["-H", "Transfer-Encoding: chunked"]
        for h in headers:
            cmd += ["-H", h]
        cmd.append("%s://127.0.0.1:%d%s" % ("https" if https else "http", port, path))
        config = 'user = "%s:%s"\n' % auth if auth else ""
        t = time.monotonic()
        r = subprocess.run(cmd, input=config, capture_output=True, text=True,
                           timeout=60)
        secs = time.monotonic() - t
        if r.returncode != 0:
            raise RuntimeError("curl failed: %s" % r.stderr)
        with open(hdr, errors="replace", newline="") as f:
            block = f.read().strip().split("\r\n\r\n")[-1]
        hdrs = {}
        for line in block.split("\r\n")[1:]:
            k, _, v = line.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        with open(out, "rb") as f:
            data = f.read()
        return int(r.stdout), hdrs, data, secs


def pox(email, **kw):
    """POST an Outlook POX request for email; (status, headers, body)."""
    st, h, body, _ = curl(POX, xctest.pox_request(email), **kw)
    return st, h, body


def xml(body):
    try:
        return ET.fromstring(body)
    except ET.ParseError:
        return ET.Element("unparseable")


def q(ns, path):
    """'A/B' in namespace ns -> '{ns}A/{ns}B' for ElementTree."""
    return "/".join("{%s}%s" % (ns, p) for p in path.split("/"))


def text(root, ns, path):
    e = root.find(q(ns, path))
    return e.text if e is not None else None


def pox_error_code(body):
    """(ErrorCode, Message) of a POX framework error, namespaces exact."""
    root = xml(body)
    err = root.find(q(NS_RESP, "Response/Error"))
    if root.tag != "{%s}Autodiscover" % NS_RESP or err is None:
        return None, None
    return (text(err, NS_RESP, "ErrorCode"), text(err, NS_RESP, "Message"))


def protocols(root):
    """Protocol elements of an Outlook settings response by Type."""
    out = {}
    for p in root.findall(q(NS_OUTLOOK, "Response/Account/Protocol")):
        out[p.get("Type") or text(p, NS_OUTLOOK, "Type")] = p
    return out


def soap_envelope(body, action="GetUserSettings"):
    """An envelope shaped like the one exchangelib 4.9 sends."""
    return ('<?xml version="1.0" encoding="utf-8"?>\n'
            '<s:Envelope xmlns:s="%s" '
            'xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types" '
            'xmlns:a="%s" xmlns:wsa="http://www.w3.org/2005/08/addressing" '
            'xmlns:xsi="%s"><s:Header>'
            '<a:RequestedServerVersion>Exchange2016</a:RequestedServerVersion>'
            '<wsa:Action>http://schemas.microsoft.com/exchange/2010/Autodiscover/'
            'Autodiscover/%s</wsa:Action>'
            '<wsa:To>https://127.0.0.1:%d/autodiscover/autodiscover.svc</wsa:To>'
            '</s:Header><s:Body>%s</s:Body></s:Envelope>'
            % (NS_SOAP, NS_ADISC, NS_XSI, action, HTTPS, body)).encode()


EXCHANGELIB_SETTINGS = ["UserDN", "MailboxDN", "UserDisplayName",
                        "AutoDiscoverSMTPAddress", "ExternalEwsUrl",
                        "EwsSupportedSchemas"]


def get_user_settings(mailbox, settings=EXCHANGELIB_SETTINGS, auth=ALICE):
    """GetUserSettings for one mailbox; (status, UserResponse or None, root)."""
    body = ("<a:GetUserSettingsRequestMessage><a:Request><a:Users><a:User>"
            "<a:Mailbox>%s</a:Mailbox></a:User></a:Users><a:RequestedSettings>%s"
            "</a:RequestedSettings></a:Request></a:GetUserSettingsRequestMessage>"
            % (mailbox, "".join("<a:Setting>%s</a:Setting>" % s for s in settings)))
    st, _, data = xctest.request("POST", SVC, soap_envelope(body), auth=auth)
    root = xml(data)
    resp = root.find("{%s}Body/%s" % (NS_SOAP, q(NS_ADISC, "GetUserSettingsResponseMessage/Response")))
    ur = resp.find(q(NS_ADISC, "UserResponses/UserResponse")) if resp is not None else None
    return st, resp, ur


def user_settings(ur):
    return {text(s, NS_ADISC, "Name"): text(s, NS_ADISC, "Value")
            for s in ur.findall(q(NS_ADISC, "UserSettings/UserSetting"))}


# --------------------------------------------------------- POX: auth ----
def pox_without_credentials_asks_for_basic():
    st, h, _, _ = curl(POX, xctest.pox_request(ALICE[0]), auth=None)
    check("POX without credentials gets 401", st == 401, st)
    check("with WWW-Authenticate Basic",
          h.get("www-authenticate", "").lower().startswith("basic"), h)


def pox_with_a_wrong_password_is_refused():
    st, _, _ = pox(ALICE[0], auth=(ALICE[0], "not-her-password"))
    check("POX with a wrong password gets 401", st == 401, st)


# ------------------------------------------------------ POX: settings ----
def alice_discovers_her_settings():
    st, h, body = pox(ALICE[0])
    check("POX for alice's own address gets 200", st == 200, st)
    check("as text/xml; charset=utf-8",
          h.get("content-type", "").lower() == "text/xml; charset=utf-8", h)
    root = xml(body)
    check("the root is Autodiscover in the responseschema/2006 namespace",
          root.tag == "{%s}Autodiscover" % NS_RESP, root.tag)
    check("Response is in the outlook 2006a namespace",
          root.find("{%s}Response" % NS_OUTLOOK) is not None, body[:400])
    check("no namespace is written with https://",
          b"https://schemas.microsoft.com" not in body)
    check("DisplayName is Alice Example",
          text(root, NS_OUTLOOK, "Response/User/DisplayName") == "Alice Example", body[:600])
    check("AutoDiscoverSMTPAddress is her address",
          text(root, NS_OUTLOOK, "Response/User/AutoDiscoverSMTPAddress") == ALICE[0])
    check("Action is settings",
          text(root, NS_OUTLOOK, "Response/Account/Action") == "settings")
    protos = protocols(root)
    for kind in ("EXCH", "EXPR"):
        p = protos.get(kind)
        check("Protocol %s carries the EwsUrl" % kind,
              p is not None and text(p, NS_OUTLOOK, "EwsUrl") == EWS_URL,
              p is not None and ET.tostring(p)[:600])
        check("Protocol %s says ServerVersion 73C189CB (15.1.2507)" % kind,
              p is not None and text(p, NS_OUTLOOK, "ServerVersion") == "73C189CB")
    check("no mapiHttp Protocol unless the client asks", "mapiHttp" not in protos,
          list(protos))


def the_path_matches_in_any_case():
    st, _, body, _ = curl("/Autodiscover/Autodiscover.xml", xctest.pox_request(ALICE[0]))
    check("POX at /Autodiscover/Autodiscover.xml works", st == 200 and
          text(xml(body), NS_OUTLOOK, "Response/Account/Action") == "settings", st)


def an_alias_discovers_the_primary_address():
    st, _, body = pox("alice.alias@other.test")
    check("POX for alice's alias gets 200", st == 200, st)
    check("and names her primary address",
          text(xml(body), NS_OUTLOOK, "Response/User/AutoDiscoverSMTPAddress") == ALICE[0],
          body[:600])


def a_legacy_dn_discovers_the_mailbox():
    _, _, body = pox(ALICE[0])
    dn = text(xml(body), NS_OUTLOOK, "Response/User/LegacyDN") or ""
    req = ('<?xml version="1.0" encoding="utf-8"?><Autodiscover xmlns="'
           'http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">'
           '<Request><LegacyDN>%s</LegacyDN><AcceptableResponseSchema>%s'
           '</AcceptableResponseSchema></Request></Autodiscover>' % (dn, NS_OUTLOOK)).encode()
    st, _, body, _ = curl(POX, req)
    check("POX by alice's LegacyDN gets her settings", st == 200 and
          text(xml(body), NS_OUTLOOK, "Response/User/AutoDiscoverSMTPAddress") == ALICE[0],
          body[:600])


def outlook_with_mapi_http_gets_its_urls():
    st, _, body = pox(ALICE[0], headers=["X-MapiHttpCapability: 1"])
    check("POX with X-MapiHttpCapability: 1 gets 200", st == 200, st)
    p = protocols(xml(body)).get("mapiHttp")
    check("there is a Protocol Type=\"mapiHttp\" Version=\"1\"",
          p is not None and p.get("Version") == "1", body[:800])
    if p is None:
        return
    check("it has no Type child element", p.find(q(NS_OUTLOOK, "Type")) is None)
    store = text(p, NS_OUTLOOK, "MailStore/InternalUrl") or ""
    book = text(p, NS_OUTLOOK, "AddressBook/InternalUrl") or ""
    check("MailStore points at /mapi/emsmdb/ with a MailboxId",
          store.startswith(BASE + "/mapi/emsmdb/?MailboxId=") and
          text(p, NS_OUTLOOK, "MailStore/ExternalUrl") == store, store)
    check("AddressBook points at /mapi/nspi/ with a MailboxId",
          book.startswith(BASE + "/mapi/nspi/?MailboxId=") and
          text(p, NS_OUTLOOK, "AddressBook/ExternalUrl") == book, book)


# -------------------------------------------------------- POX: errors ----
def other_mailboxes_are_not_found():
    st, h, bob = pox(BOB[0])
    check("POX for bob with alice's credentials gets 200", st == 200, st)
    check("with error 500 \"The email address can't be found.\"",
          pox_error_code(bob) == ("500", NOT_FOUND), bob)
    root = xml(bob)
    check("the error Response is in the 2006 namespace, without 2006a",
          root.find("{%s}Response" % NS_RESP) is not None and
          NS_OUTLOOK.encode() not in bob, bob)
    st, _, nobody = pox("nobody@example.test")
    check("POX for an unknown address gets the same error",
          st == 200 and pox_error_code(nobody) == ("500", NOT_FOUND), nobody)

    def without_time(b):
        e = xml(b).find(q(NS_RESP, "Response/Error"))
        if e is not None:
            e.attrib.pop("Time", None)
        return ET.tostring(xml(b)) if e is None else ET.tostring(e)
    check("bob and an unknown address can't be told apart",
          without_time(bob) == without_time(nobody))


def a_redirected_domain_gets_redirect_addr():
    st, _, body = pox("user@redirect.test")
    root = xml(body)
    check("POX for user@redirect.test gets 200", st == 200, st)
    check("with Action redirectAddr",
          text(root, NS_OUTLOOK, "Response/Account/Action") == "redirectAddr", body)
    check("to user@example.test",
          text(root, NS_OUTLOOK, "Response/Account/RedirectAddr") == "user@example.test",
          body)


def an_unknown_response_schema_gets_601():
    req = xctest.pox_request(ALICE[0], schema="http://example.test/no/such/schema")
    st, _, body, _ = curl(POX, req)
    check("an unknown AcceptableResponseSchema gets error 601",
          st == 200 and pox_error_code(body)[0] == "601", body)


def malformed_xml_gets_600():
    st, _, body, _ = curl(POX, b"<Autodiscover><Request>")
    check("malformed XML gets error 600",
          st == 200 and pox_error_code(body)[0] == "600", body)


def a_get_gets_600():
    st, _, body, _ = curl(POX, method="GET")
    check("GET on autodiscover.xml gets error 600",
          st == 200 and pox_error_code(body)[0] == "600", (st, body))


def a_phone_discovers_activesync():
    req = xctest.pox_request(ALICE[0], schema=NS_MOBILE, ns=NS_MOBILE_REQ)
    st, _, body, _ = curl(POX, req)
    root = xml(body)
    check("a mobilesync request gets 200", st == 200, st)
    check("the Response is in the mobilesync namespace",
          root.find("{%s}Response" % NS_MOBILE) is not None, body)
    check("Culture is en:us", text(root, NS_MOBILE, "Response/Culture") == "en:us")
    check("User/EMailAddress is alice's",
          text(root, NS_MOBILE, "Response/User/EMailAddress") == ALICE[0])
    server = root.find(q(NS_MOBILE, "Response/Action/Settings/Server"))
    check("Server Type is MobileSync",
          server is not None and text(server, NS_MOBILE, "Type") == "MobileSync", body)
    check("with the ActiveSync URL",
          server is not None and text(server, NS_MOBILE, "Url") == EAS_URL, body)


# ------------------------------------------------------ POX: hostile ----
def an_external_entity_is_refused():
    req = ('<?xml version="1.0" encoding="utf-8"?>\n'
           '<!DOCTYPE Autodiscover [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
           '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
           'outlook/requestschema/2006"><Request><EMailAddress>&xxe;</EMailAddress>'
           '<AcceptableResponseSchema>%s</AcceptableResponseSchema></Request>'
           '</Autodiscover>' % NS_OUTLOOK).encode()
    st, _, body, _ = curl(POX, req)
    check("a DOCTYPE with a SYSTEM entity gets error 600",
          st == 200 and pox_error_code(body)[0] == "600", body)
    with open("/etc/passwd", "rb") as f:
        first = f.readline().strip()
    check("the response contains nothing from /etc/passwd",
          first not in body and b"root:" not in body, body)


def billion_laughs_are_refused_fast():
    ents = ['<!ENTITY lol "lol">'] + [
        '<!ENTITY lol%d "%s">' % (i, ("&lol%s;" % ("" if i == 1 else i - 1)) * 10)
        for i in range(1, 10)]
    req = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [%s]>\n'
           '<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/'
           'outlook/requestschema/2006"><Request><EMailAddress>&lol9;</EMailAddress>'
           '<AcceptableResponseSchema>%s</AcceptableResponseSchema></Request>'
           '</Autodiscover>' % ("".join(ents), NS_OUTLOOK)).encode()
    st, _, body, secs = curl(POX, req)
    check("billion laughs get error 600",
          st == 200 and pox_error_code(body)[0] == "600", body[:400])
    check("and are answered in under 2 s", secs < 2.0, "%.2fs" % secs)
    check("httpd still answers after them", pox(ALICE[0])[0] == 200)


def an_oversized_body_gets_413():
    big = xctest.pox_request(ALICE[0]).replace(
        b"<Request>", b"<Request><!--" + b"x" * MAX_BODY + b"-->")
    st, _, _, _ = curl(POX, big)
    check("a body over %d bytes gets 413" % MAX_BODY, st == 413, st)
    st, _, _, _ = curl(POX, big, chunked=True)
    check("a chunked body over %d bytes gets 413" % MAX_BODY, st == 413, st)
    fits = xctest.pox_request(ALICE[0]).replace(
        b"<Request>", b"<Request><!--" + b"x" * (MAX_BODY - 600) + b"-->")
    st, _, _, _ = curl(POX, fits)
    check("a body just under the limit is served", st == 200,
          (st, len(fits)))


def pox_works_over_https():
    st, _, body = pox(ALICE[0], https=True)
    check("POX over HTTPS (curl -k) gets alice's settings", st == 200 and
          text(xml(body), NS_OUTLOOK, "Response/User/AutoDiscoverSMTPAddress") == ALICE[0],
          st)


# --------------------------------------------------------------- SOAP ----
def soap_needs_credentials():
    st, h, _ = xctest.request("POST", SVC, soap_envelope(""))
    check("SOAP without credentials gets 401 with Basic",
          st == 401 and h.get("www-authenticate", "").lower().startswith("basic"),
          (st, h))


def exchangelib_style_get_user_settings():
    st, resp, ur = get_user_settings(ALICE[0])
    check("GetUserSettings for alice gets 200", st == 200, st)
    check("Response ErrorCode is NoError",
          resp is not None and text(resp, NS_ADISC, "ErrorCode") == "NoError")
    check("UserResponse ErrorCode is NoError",
          ur is not None and text(ur, NS_ADISC, "ErrorCode") == "NoError")
    if ur is None:
        return
    got = user_settings(ur)
    check("every requested setting is returned",
          set(got) == set(EXCHANGELIB_SETTINGS), got)
    check("no UserSettingError",
          ur.findall(q(NS_ADISC, "UserSettingErrors/UserSettingError")) == [])
    check("ExternalEwsUrl is the EWS URL", got.get("ExternalEwsUrl") == EWS_URL, got)
    check("UserDisplayName is Alice Example",
          got.get("UserDisplayName") == "Alice Example", got)
    check("AutoDiscoverSMTPAddress is hers",
          got.get("AutoDiscoverSMTPAddress") == ALICE[0], got)
    check("UserDN and MailboxDN are DNs",
          (got.get("UserDN") or "").startswith("/o=") and
          (got.get("MailboxDN") or "").startswith("/o="), got)
    schemas = [s.strip() for s in (got.get("EwsSupportedSchemas") or "").split(",")]
    check("EwsSupportedSchemas goes up to Exchange2016, not beyond",
          "Exchange2016" in schemas and schemas[-1] == "Exchange2016", schemas)


def an_unknown_setting_is_invalid():
    st, _, ur = get_user_settings(ALICE[0], ["UserDisplayName", "NoSuchSetting"])
    errs = ur.findall(q(NS_ADISC, "UserSettingErrors/UserSettingError")) if ur is not None else []
    check("an unknown setting gets UserSettingError InvalidSetting",
          len(errs) == 1 and text(errs[0], NS_ADISC, "ErrorCode") == "InvalidSetting"
          and text(errs[0], NS_ADISC, "SettingName") == "NoSuchSetting",
          [ET.tostring(e) for e in errs])
    check("the known setting is still returned",
          ur is not None and user_settings(ur) == {"UserDisplayName": "Alice Example"})


def soap_for_bobs_mailbox_is_invalid_user():
    st, _, ur = get_user_settings(BOB[0])
    check("GetUserSettings for bob by alice is InvalidUser",
          ur is not None and text(ur, NS_ADISC, "ErrorCode") == "InvalidUser")
    check("and returns no settings", ur is not None and user_settings(ur) == {})


def soap_for_a_redirected_domain_is_redirect_address():
    st, _, ur = get_user_settings("user@redirect.test")
    check("GetUserSettings for user@redirect.test is RedirectAddress",
          ur is not None and text(ur, NS_ADISC, "ErrorCode") == "RedirectAddress")
    check("with RedirectTarget user@example.test",
          ur is not None and text(ur, NS_ADISC, "RedirectTarget") == "user@example.test")


def get_domain_settings_names_the_ews_url():
    body = ("<a:GetDomainSettingsRequestMessage><a:Request><a:Domains>"
            "<a:Domain>example.test</a:Domain></a:Domains><a:RequestedSettings>"
            "<a:Setting>ExternalEwsUrl</a:Setting></a:RequestedSettings>"
            "<a:RequestedVersion>Exchange2010</a:RequestedVersion></a:Request>"
            "</a:GetDomainSettingsRequestMessage>")
    st, _, data = xctest.request("POST", SVC, soap_envelope(body, "GetDomainSettings"),
                                 auth=ALICE)
    dr = xml(data).find("{%s}Body/%s" % (NS_SOAP, q(
        NS_ADISC, "GetDomainSettingsResponseMessage/Response/DomainResponses/DomainResponse")))
    check("GetDomainSettings for example.test gets NoError",
          st == 200 and dr is not None and text(dr, NS_ADISC, "ErrorCode") == "NoError",
          data[:800])
    vals = {} if dr is None else {
        text(s, NS_ADISC, "Name"): text(s, NS_ADISC, "Value")
        for s in dr.findall(q(NS_ADISC, "DomainSettings/DomainSetting"))}
    check("ExternalEwsUrl is the EWS URL", vals.get("ExternalEwsUrl") == EWS_URL, vals)


def an_oversized_soap_body_gets_413():
    body = "<a:GetUserSettingsRequestMessage><!--%s--></a:GetUserSettingsRequestMessage>" % (
        "x" * MAX_BODY)
    st, _, _ = xctest.request("POST", SVC, soap_envelope(body), auth=ALICE)
    check("a SOAP body over %d bytes gets 413" % MAX_BODY, st == 413, st)


def malformed_soap_gets_a_fault():
    st, _, data = xctest.request("POST", SVC, b"<s:Envelope xmlns:s=", auth=ALICE)
    check("malformed SOAP gets a SOAP Fault",
          xml(data).find("{%s}Body/{%s}Fault" % (NS_SOAP, NS_SOAP)) is not None,
          (st, data[:400]))
    st, _, data = xctest.request("POST", SVC, soap_envelope("<a:NoSuchOperation/>"),
                                 auth=ALICE)
    check("an unknown SOAP operation gets a SOAP Fault",
          xml(data).find("{%s}Body/{%s}Fault" % (NS_SOAP, NS_SOAP)) is not None,
          (st, data[:400]))


# ---------------------------------------------------------- JSON (v2) ----
def json_get(path):
    st, h, data = xctest.request("GET", path, headers={"Accept": "application/json"})
    try:
        doc = json.loads(data)
    except ValueError:
        doc = None
    return st, h, data, doc


def json_v2_answers_without_credentials():
    st, h, data, doc = json_get(JSON + "/v1.0/alice@example.test?Protocol=EWS")
    check("JSON v2 for EWS without credentials gets 200", st == 200, (st, data))
    check("as application/json",
          h.get("content-type", "").startswith("application/json"), h)
    check("{\"Protocol\":\"EWS\",\"Url\":\"%s\"}" % EWS_URL,
          doc == {"Protocol": "EWS", "Url": EWS_URL}, data)
    _, _, _, doc = json_get(JSON + "/v1.0/alice@example.test?Protocol=ActiveSync")
    check("JSON v2 for ActiveSync names the ActiveSync URL",
          doc == {"Protocol": "ActiveSync", "Url": EAS_URL}, doc)
    _, _, _, doc = json_get(JSON + "/v1.0/alice@example.test?Protocol=AutodiscoverV1")
    check("JSON v2 for AutodiscoverV1 names the POX URL",
          doc == {"Protocol": "AutodiscoverV1", "Url": BASE + POX}, doc)
    _, _, _, doc = json_get(JSON + "?Email=alice@example.test&Protocol=EWS")
    check("the older ?Email= form answers the same",
          doc == {"Protocol": "EWS", "Url": EWS_URL}, doc)


def json_v2_reveals_nothing_about_users():
    _, _, alice, _ = json_get(JSON + "/v1.0/alice@example.test?Protocol=EWS")
    st, _, nobody, _ = json_get(JSON + "/v1.0/nobody@example.test?Protocol=EWS")
    check("an unknown user gets the same answer as alice",
          st == 200 and nobody == alice, (st, nobody))


def json_v2_refuses_bad_protocols():
    st, _, data, doc = json_get(JSON + "/v1.0/alice@example.test?Protocol=Rest")
    check("an unsupported protocol gets 400 with an ErrorCode",
          st == 400 and isinstance(doc, dict) and doc.get("ErrorCode"), (st, data))
    st, _, data, doc = json_get(JSON + "/v1.0/alice@example.test")
    check("a missing Protocol gets 400 with an ErrorCode",
          st == 400 and isinstance(doc, dict) and doc.get("ErrorCode"), (st, data))


PROXYSHELL = [
    JSON + "?@x/mapi/",
    JSON + "?@x.com/mapi/nspi/?&Email=autodiscover/autodiscover.json%3F@x.com",
    JSON + "/v1.0/x@y/mapi/emsmdb",
    JSON + "?Email=a@b&Protocol=EWS&x=/mapi/",
]


def proxyshell_paths_go_nowhere():
    for path in PROXYSHELL:
        for who, auth in (("anonymous", None), ("alice", ALICE)):
            st, h, data = xctest.request("GET", path, auth=auth)
            check("ProxyShell %s (%s) gets 400 or 404" % (path, who),
                  st in (400, 404) and "location" not in h, (st, h, data[:200]))


def other_autodiscover_paths_need_auth_then_404():
    for path in ("/autodiscover/", "/autodiscover/foo.xml", "/AutoDiscover/mapi/nspi/",
                 "/autodiscover/autodiscover.jsonx", "/autodiscover/autodiscover.svc/x"):
        st, _, _ = xctest.request("GET", path)
        check("%s without credentials gets 401" % path, st == 401, st)
        st, _, _ = xctest.request("GET", path, auth=ALICE)
        check("%s with credentials gets 404" % path, st == 404, st)


xctest.run_tests(
    pox_without_credentials_asks_for_basic,
    pox_with_a_wrong_password_is_refused,
    alice_discovers_her_settings,
    the_path_matches_in_any_case,
    an_alias_discovers_the_primary_address,
    a_legacy_dn_discovers_the_mailbox,
    outlook_with_mapi_http_gets_its_urls,
    other_mailboxes_are_not_found,
    a_redirected_domain_gets_redirect_addr,
    an_unknown_response_schema_gets_601,
    malformed_xml_gets_600,
    a_get_gets_600,
    a_phone_discovers_activesync,
    an_external_entity_is_refused,
    billion_laughs_are_refused_fast,
    an_oversized_body_gets_413,
    pox_works_over_https,
    soap_needs_credentials,
    exchangelib_style_get_user_settings,
    an_unknown_setting_is_invalid,
    soap_for_bobs_mailbox_is_invalid_user,
    soap_for_a_redirected_domain_is_redirect_address,
    get_domain_settings_names_the_ews_url,
    an_oversized_soap_body_gets_413,
    malformed_soap_gets_a_fault,
    json_v2_answers_without_credentials,
    json_v2_reveals_nothing_about_users,
    json_v2_refuses_bad_protocols,
    proxyshell_paths_go_nowhere,
    other_autodiscover_paths_need_auth_then_404,
)
