#!/usr/bin/python3
"""test_exchangelib - python3-exchangelib 4.9 (Debian) discovers our server.

An independent client: if exchangelib finds the EWS endpoint and the
server version through POX and SOAP Autodiscover, so will the many tools
built on it. exchangelib would look the domain up in DNS first, so the
test points it at the stack directly (the notes' "direct" and "pre-seeded
cache" ways): PoxAutodiscovery's _attempt_response on one URL with the
DNS check stubbed, and SoapAutodiscovery.discover() from a cache entry.
exchangelib persists that cache as a file in the temporary directory; the
test gives it a private one and removes it at the end.
"""
import os
import shutil
import sys
import tempfile

# before exchangelib is imported: its cache file goes into gettempdir()
PRIVATE_TMP = tempfile.mkdtemp(prefix="xc-exchangelib-")
tempfile.tempdir = PRIVATE_TMP

import urllib3                                      # noqa: E402

import xctest                                       # noqa: E402
from xctest import ALICE, HTTP, HTTPS, check        # noqa: E402

try:
    import exchangelib
    from exchangelib import Configuration, Credentials
    from exchangelib.autodiscover import (AutodiscoverProtocol,
                                          autodiscover_cache, clear_cache)
    from exchangelib.autodiscover.discovery.pox import PoxAutodiscovery
    from exchangelib.autodiscover.discovery.soap import SoapAutodiscovery
    from exchangelib.errors import AutoDiscoverFailed, ErrorNonExistentMailbox
    from exchangelib.protocol import BaseProtocol, FailFast, NoVerifyHTTPAdapter
    from exchangelib.transport import BASIC
except ImportError as e:
    check("python3-exchangelib is installed (apt-get install python3-exchangelib)",
          False, e)
    shutil.rmtree(PRIVATE_TMP, ignore_errors=True)
    xctest.done()

urllib3.disable_warnings()
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter    # the stack's self-signed cert

POX_URL = "http://127.0.0.1:%d/Autodiscover/Autodiscover.xml" % HTTP
SVC_URL = "https://127.0.0.1:%d/autodiscover/autodiscover.svc" % HTTPS
EWS_URL = "https://localhost:%d/EWS/Exchange.asmx" % HTTPS


def no_dns_fallback(hostname):
    """exchangelib's next discovery steps go to DNS; the test has none."""
    raise AutoDiscoverFailed("no DNS fallback in this test (%s)" % hostname)


def pox_discovery(email, password):
    """PoxAutodiscovery of email at the stack's POX URL; (ok, response)."""
    d = PoxAutodiscovery(email=email, credentials=Credentials(ALICE[0], password))
    d._ensure_valid_hostname = lambda url: None
    ok, ad = d._attempt_response(url=POX_URL)
    return d, ok, ad


# -------------------------------------------------------------- tests ----
def exchangelib_is_the_expected_version():
    print("# exchangelib %s on Python %s" % (exchangelib.__version__,
                                              sys.version.split()[0]))
    check("exchangelib 4.x (POX support) is installed",
          exchangelib.__version__.startswith("4."), exchangelib.__version__)


def pox_discovery_finds_ews():
    d, ok, ad = pox_discovery(ALICE[0], ALICE[1])
    check("exchangelib gets a valid POX response for alice", ok, ad)
    if not ok:
        return
    ad = d._step_5(ad=ad)
    ad_resp, ews = d._build_response(ad_response=ad)
    check("the EWS endpoint is the stack's EWS URL",
          ews.service_endpoint == EWS_URL, ews.service_endpoint)
    version = ews.config.version
    check("the version is Exchange2016",
          version is not None and version.api_version == "Exchange2016", version)
    check("from build 15.1",
          version is not None and (version.build.major_version,
                                   version.build.minor_version) == (15, 1), version)
    check("the autodiscovered address is alice's",
          ad_resp.autodiscover_smtp_address == ALICE[0],
          ad_resp.autodiscover_smtp_address)
    check("exchangelib reads Basic auth from the response",
          (ad_resp.protocol.auth_type or "").lower() == "basic", ad_resp.protocol.auth_type)


def pox_discovery_with_a_wrong_password_fails():
    _, ok, ad = pox_discovery(ALICE[0], "not-her-password")
    check("exchangelib POX discovery with a wrong password fails", not ok, ad)
    check("alice still discovers with her password", pox_discovery(ALICE[0], ALICE[1])[1])


def pox_discovery_of_an_unknown_mailbox_says_so():
    d, ok, ad = pox_discovery("nobody@example.test", ALICE[1])
    check("exchangelib gets a valid POX document for an unknown mailbox", ok, ad)
    if not ok:
        return
    try:
        d._step_5(ad=ad)
        got = "no exception"
    except ErrorNonExistentMailbox:
        got = "ErrorNonExistentMailbox"
    except Exception as e:              # noqa: BLE001 - reported below
        got = repr(e)
    check("the unknown mailbox raises ErrorNonExistentMailbox",
          got == "ErrorNonExistentMailbox", got)


def soap_discovery_finds_ews():
    creds = Credentials(ALICE[0], ALICE[1])
    clear_cache()
    autodiscover_cache[("example.test", creds)] = AutodiscoverProtocol(
        config=Configuration(service_endpoint=SVC_URL, credentials=creds,
                             auth_type=BASIC, retry_policy=FailFast()))
    d = SoapAutodiscovery(email=ALICE[0], credentials=creds)
    d._step_1 = no_dns_fallback
    ad_resp, ews = d.discover()
    check("exchangelib SOAP discovery finds the EWS endpoint",
          ews.service_endpoint == EWS_URL, ews.service_endpoint)
    check("the user settings include alice's display name",
          ad_resp.user_settings.get("user_display_name") == "Alice Example",
          ad_resp.user_settings)
    check("and her SMTP address",
          ad_resp.autodiscover_smtp_address == ALICE[0], ad_resp.user_settings)
    check("the version is Exchange2016",
          ews.config.version is not None and
          ews.config.version.api_version == "Exchange2016", ews.config.version)


def the_cache_stays_in_a_private_directory():
    files = os.listdir(PRIVATE_TMP)
    check("exchangelib's cache file went to the private directory",
          any(f.startswith("exchangelib.") for f in files), files)


def cleanup():
    clear_cache()
    shutil.rmtree(PRIVATE_TMP, ignore_errors=True)
    check("the private cache directory is removed", not os.path.exists(PRIVATE_TMP))


xctest.run_tests(
    exchangelib_is_the_expected_version,
    pox_discovery_finds_ews,
    pox_discovery_with_a_wrong_password_fails,
    pox_discovery_of_an_unknown_mailbox_says_so,
    soap_discovery_finds_ews,
    the_cache_stays_in_a_private_directory,
    cleanup,
)
