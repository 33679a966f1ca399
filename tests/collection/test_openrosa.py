"""ODK Collect / Enketo talking to Mobility over OpenRosa: sign in, list and download forms, send submissions.

The Digest responses are computed here from RFC 2617 (not with the server's code), as a phone would.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest
from defusedxml import ElementTree as ET
from django.core.files.uploadedfile import SimpleUploadedFile

from mobility.collection import auth, openrosa
from mobility.collection.models import Attachment, DigestCredential, Submission, SubmissionConflict
from mobility.collection.services import form_publish, form_state_set, media_attach

from .forms import instance_xml, simple_xlsform, xlsform

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"  # tests/conftest.py
RECORDER = "mobility.collection.auth.DigestHA1Recorder"
LIST_NS = {"x": "http://openrosa.org/xforms/xformsList"}
MANIFEST_NS = {"m": "http://openrosa.org/xforms/xformsManifest"}
RESPONSE_NS = {"r": "http://openrosa.org/http/response"}


@pytest.fixture(autouse=True)
def digest_recorded(settings):
    """Users made by the fixtures get their Digest HA1 (the recorder is a password validator)."""
    if not any(v["NAME"] == RECORDER for v in settings.AUTH_PASSWORD_VALIDATORS):
        settings.AUTH_PASSWORD_VALIDATORS = [*settings.AUTH_PASSWORD_VALIDATORS, {"NAME": RECORDER}]


def app_user(user):
    """Set the password the way every Mobility door does (set_password + save): the HA1 is recorded.

    (``create_user``, used by the shared fixtures, writes the hash directly and records nothing.)
    """
    user.set_password(PASSWORD)
    user.save()
    return user


@pytest.fixture
def enumerator(enumerator):
    return app_user(enumerator)


@pytest.fixture
def data_manager(data_manager):
    return app_user(data_manager)


@pytest.fixture
def viewer(viewer):
    return app_user(viewer)


@pytest.fixture
def outsider(outsider):
    return app_user(outsider)


@pytest.fixture
def admin_user(admin_user):
    return app_user(admin_user)


# ---------------------------------------------------------------- a phone's side of Digest


def md5(data: str | bytes) -> str:
    """MD5 as RFC 2617 Digest and the OpenRosa hashes use it."""
    return hashlib.md5(data.encode() if isinstance(data, str) else data).hexdigest()  # noqa: S324


def parse_challenge(header: str) -> dict:
    assert header.startswith("Digest "), header
    digest = header.split(", Basic ")[0][len("Digest ") :]
    return {key: quoted or bare for key, quoted, bare in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', digest)}


class Phone:
    """Signs every request with Digest, like ODK Collect after its first challenge."""

    def __init__(self, client, username: str, password: str = PASSWORD):
        self.client, self.username, self.password = client, username, password
        self.nonce, self.realm, self.nc = None, None, 0

    def authorization(self, method: str, uri: str) -> str:
        self.nc += 1
        nc, cnonce = f"{self.nc:08x}", secrets.token_hex(8)
        ha1 = md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = md5(f"{method}:{uri}")
        response = md5(f"{ha1}:{self.nonce}:{nc}:{cnonce}:auth:{ha2}")
        return (
            f'Digest username="{self.username}", realm="{self.realm}", nonce="{self.nonce}", uri="{uri}", '
            f'algorithm=MD5, qop=auth, nc={nc}, cnonce="{cnonce}", response="{response}"'
        )

    def request(self, method: str, url: str, data=None, **extra):
        uri = urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        send = getattr(self.client, method.lower())
        if self.nonce is None:
            first = send(url) if method != "POST" else self.client.head(url)
            assert first.status_code == 401, first.status_code
            challenge = parse_challenge(first["WWW-Authenticate"])
            self.nonce, self.realm = challenge["nonce"], challenge["realm"]
        kwargs = {"HTTP_AUTHORIZATION": self.authorization(method, uri), **extra}
        return send(url, data, **kwargs) if data is not None else send(url, **kwargs)

    def get(self, url, **extra):
        return self.request("GET", url, **extra)

    def head(self, url, **extra):
        return self.request("HEAD", url, **extra)

    def post(self, url, data, **extra):
        return self.request("POST", url, data=data, **extra)


def multipart(raw: bytes, *attachments: tuple[str, bytes], incomplete: bool = False) -> dict:
    data = {"xml_submission_file": SimpleUploadedFile("instance.xml", raw, "text/xml")}
    for name, content in attachments:
        data[name] = SimpleUploadedFile(name, content, "image/jpeg")
    if incomplete:
        data["*isIncomplete*"] = "yes"
    return data


def message(response) -> tuple[str, str]:
    root = ET.fromstring(response.content)
    node = root.find("r:message", RESPONSE_NS)
    return node.get("nature", ""), node.text


@pytest.fixture
def form_version(operation, data_manager):
    return form_publish(
        operation=operation, data=simple_xlsform(), filename="household_visit.xlsx", by=data_manager
    )


@pytest.fixture
def base(operation):
    return f"/collect/{operation.slug}"


@pytest.fixture
def phone(client, enumerator):
    return Phone(client, enumerator.username)


# ---------------------------------------------------------------- forms


def site_visit_xlsform() -> bytes:
    return xlsform(
        [["type", "name", "label"], ["integer", "households", "Households on the site"]],
        settings={"form_id": "site_visit", "form_title": "Site visit", "version": "3"},
    )


def test_form_list_has_the_openrosa_shape_and_hashes_of_what_is_downloaded(
    phone, base, form_version, operation
):
    media_attach(
        version=form_version, name="admin2.csv", data=b"name,label\nMZ0101,Pemba\n", content_type="text/csv"
    )
    form_publish(operation=operation, data=site_visit_xlsform(), filename="site_visit.xlsx")
    r = phone.get(f"{base}/formList")
    assert r.status_code == 200 and r["Content-Type"] == "text/xml; charset=utf-8"
    assert r["X-OpenRosa-Version"] == "1.0"
    assert abs(time.time() - parsedate_to_datetime(r["Date"]).timestamp()) < 60
    root = ET.fromstring(r.content)
    assert root.tag == "{http://openrosa.org/xforms/xformsList}xforms"
    xforms = {x.findtext("x:formID", namespaces=LIST_NS): x for x in root.findall("x:xform", LIST_NS)}
    assert sorted(xforms) == ["household_visit", "site_visit"]
    household = xforms["household_visit"]
    assert [child.tag.split("}")[1] for child in household] == [
        "formID",
        "name",
        "version",
        "hash",
        "downloadUrl",
        "manifestUrl",
    ]
    assert household.findtext("x:name", namespaces=LIST_NS) == "Household visit"
    assert household.findtext("x:version", namespaces=LIST_NS) == "2026112501"
    download = household.findtext("x:downloadUrl", namespaces=LIST_NS)
    assert download.startswith("http://testserver/collect/")
    xml = phone.get(download)
    assert xml.status_code == 200 and b"<h:title>Household visit</h:title>" in xml.content
    assert household.findtext("x:hash", namespaces=LIST_NS) == "md5:" + md5(xml.content)
    assert xforms["site_visit"].find("x:manifestUrl", LIST_NS) is None  # no media, no manifest
    assert household.find("x:descriptionText", LIST_NS) is None  # only with verbose=true


def test_verbose_adds_a_description_and_form_id_filters(phone, base, form_version, operation):
    form_publish(operation=operation, data=site_visit_xlsform(), filename="site_visit.xlsx")
    root = ET.fromstring(phone.get(f"{base}/formList?verbose=true&formID=site_visit").content)
    (only,) = root.findall("x:xform", LIST_NS)
    assert only.findtext("x:formID", namespaces=LIST_NS) == "site_visit"
    assert "Site visit" in only.findtext("x:descriptionText", namespaces=LIST_NS)
    empty = ET.fromstring(phone.get(f"{base}/formList?formID=no_such_form").content)
    assert empty.findall("x:xform", LIST_NS) == []


def test_list_all_versions_offers_each_version_with_its_own_download(phone, base, form_version, operation):
    form_publish(
        operation=operation, data=simple_xlsform(version="2026120101"), filename="household_visit.xlsx"
    )
    root = ET.fromstring(phone.get(f"{base}/formList?listAllVersions=true").content)
    versions = {x.findtext("x:version", namespaces=LIST_NS): x for x in root.findall("x:xform", LIST_NS)}
    assert sorted(versions) == ["2026112501", "2026120101"]
    old = phone.get(versions["2026112501"].findtext("x:downloadUrl", namespaces=LIST_NS))
    assert b'version="2026112501"' in old.content
    current = ET.fromstring(phone.get(f"{base}/formList").content)
    assert [x.findtext("x:version", namespaces=LIST_NS) for x in current.findall("x:xform", LIST_NS)] == [
        "2026120101"
    ]


def test_closed_and_closing_forms_are_not_listed(phone, base, form_version):
    form_state_set(form=form_version.form, state="closing")
    assert ET.fromstring(phone.get(f"{base}/formList").content).findall("x:xform", LIST_NS) == []


def test_manifest_lists_media_whose_download_matches_the_hash(phone, base, form_version):
    csv = b"list_name,name,label\nadmin2,MZ0101,Pemba\nadmin2,MZ0102,Ancuabe\n"
    media_attach(version=form_version, name="admin2.csv", data=csv, content_type="text/csv")
    media_attach(
        version=form_version, name="logo.png", data=b"\x89PNG\r\n\x1a\nfake", content_type="image/png"
    )
    root = ET.fromstring(phone.get(f"{base}/formList").content)
    manifest_url = root.find("x:xform", LIST_NS).findtext("x:manifestUrl", namespaces=LIST_NS)
    r = phone.get(manifest_url)
    assert r.status_code == 200 and r["X-OpenRosa-Version"] == "1.0"
    files = ET.fromstring(r.content).findall("m:mediaFile", MANIFEST_NS)
    assert [f.findtext("m:filename", namespaces=MANIFEST_NS) for f in files] == ["admin2.csv", "logo.png"]
    first = files[0]
    assert first.findtext("m:hash", namespaces=MANIFEST_NS) == "md5:" + md5(csv)
    download = phone.get(first.findtext("m:downloadUrl", namespaces=MANIFEST_NS))
    assert download.status_code == 200 and b"".join(download.streaming_content) == csv
    assert download["Content-Type"] == "text/csv"


def test_form_list_queries_do_not_grow_with_the_forms(
    phone, base, form_version, operation, django_assert_max_num_queries
):
    phone.get(f"{base}/formList")  # the first call fetches the challenge
    with django_assert_max_num_queries(8) as one:
        phone.get(f"{base}/formList")
    for n in range(2):
        form_publish(
            operation=operation,
            data=xlsform(
                [["type", "name", "label"], ["text", "q", "Q"]], settings={"form_id": f"f{n}", "version": "1"}
            ),
            filename=f"f{n}.xlsx",
        )
    with django_assert_max_num_queries(len(one.captured_queries)):
        r = phone.get(f"{base}/formList")
    assert len(ET.fromstring(r.content).findall("x:xform", LIST_NS)) == 3


# ---------------------------------------------------------------- submissions


def test_head_answers_204_with_the_size_limit(phone, base, settings):
    settings.MAX_UPLOAD_BYTES = 12_345_678
    r = phone.head(f"{base}/submission")
    assert r.status_code == 204
    assert r["X-OpenRosa-Version"] == "1.0"
    assert r["X-OpenRosa-Accept-Content-Length"] == "12345678"
    assert parsedate_to_datetime(r["Date"])


def test_a_post_creates_and_a_resend_stores_nothing_new(phone, base, form_version, enumerator):
    raw = instance_xml("uuid:6f1e2b1c-0001", people=4)
    first = phone.post(f"{base}/submission", multipart(raw, ("photo.jpg", b"\xff\xd8photo")))
    assert first.status_code == 201
    assert message(first) == ("submit_success", openrosa.RECEIVED)
    assert first["X-OpenRosa-Version"] == "1.0" and first["X-OpenRosa-Accept-Content-Length"]
    stored = Submission.objects.get()
    assert (stored.instance_id, stored.submitted_by, stored.data["people"]) == (
        "uuid:6f1e2b1c-0001",
        enumerator,
        "4",
    )
    assert bytes(stored.raw) == raw
    attachment = stored.attachments.get()
    assert attachment.sha256 == hashlib.sha256(b"\xff\xd8photo").hexdigest()
    again = phone.post(f"{base}/submission", multipart(raw, ("photo.jpg", b"\xff\xd8photo")))
    assert again.status_code == 202
    assert message(again) == ("submit_success", openrosa.ALREADY_RECEIVED)
    assert Submission.objects.count() == 1 and Attachment.objects.count() == 1
    assert SubmissionConflict.objects.count() == 0


def test_split_posts_marked_incomplete_merge_their_attachments(phone, base, form_version):
    raw = instance_xml("uuid:6f1e2b1c-0002")
    first = phone.post(f"{base}/submission", multipart(raw, ("a.jpg", b"\xff\xd8one"), incomplete=True))
    assert first.status_code == 201 and Submission.objects.get().incomplete
    second = phone.post(f"{base}/submission", multipart(raw, ("b.jpg", b"\xff\xd8two")))
    assert second.status_code == 201
    assert message(second)[1] == openrosa.RECEIVED_MORE.format(count=1)
    stored = Submission.objects.get()
    assert not stored.incomplete
    assert dict(stored.attachments.values_list("name", "sha256")) == {
        "a.jpg": hashlib.sha256(b"\xff\xd8one").hexdigest(),
        "b.jpg": hashlib.sha256(b"\xff\xd8two").hexdigest(),
    }


def test_an_edit_replaces_the_earlier_instance(phone, base, form_version):
    phone.post(f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0003", people=4)))
    edit = phone.post(
        f"{base}/submission",
        multipart(instance_xml("uuid:6f1e2b1c-0004", people=6, deprecated="uuid:6f1e2b1c-0003")),
    )
    assert edit.status_code == 201 and message(edit)[1] == openrosa.RECEIVED_EDIT
    old = Submission.objects.get(instance_id="uuid:6f1e2b1c-0003")
    new = Submission.objects.get(instance_id="uuid:6f1e2b1c-0004")
    assert old.status == Submission.Status.SUPERSEDED and old.superseded_by == new
    assert new.root_id == "uuid:6f1e2b1c-0003"


def test_a_different_body_under_a_stored_instance_is_kept_and_the_phone_stops(phone, base, form_version):
    phone.post(f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0005", people=4)))
    other = phone.post(f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0005", people=9)))
    # 202: "we got and saved your data ... you should not try to resubmit" (OpenRosa); Collect marks it sent.
    assert other.status_code == 202
    assert message(other) == ("submit_success", openrosa.KEPT_FOR_REVIEW)
    assert Submission.objects.get().data["people"] == "4"
    assert b"<people>9</people>" in bytes(SubmissionConflict.objects.get().raw)


@pytest.mark.parametrize(
    "raw, status, expected",
    [
        (b"<data id='household_visit'><people>1</people>", 400, "not well-formed"),
        (b"<data id='household_visit'><people>1</people></data>", 400, "no meta/instanceID"),
        (instance_xml("uuid:6f1e2b1c-0006", form_id="no_such_form"), 404, 'No form "no_such_form"'),
    ],
)
def test_bad_submissions_are_refused_with_the_reason(phone, base, form_version, raw, status, expected):
    r = phone.post(f"{base}/submission", multipart(raw))
    assert r.status_code == status
    nature, text = message(r)
    assert nature == "error" and expected in text
    assert r["X-OpenRosa-Version"] == "1.0"
    assert Submission.objects.count() == 0


def test_a_closed_form_refuses_submissions(phone, base, form_version):
    form_state_set(form=form_version.form, state="closed")
    r = phone.post(f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0007")))
    assert r.status_code == 403 and "closed" in message(r)[1]
    assert Submission.objects.count() == 0


def test_a_post_without_the_xml_part_is_refused(phone, base, form_version):
    r = phone.post(f"{base}/submission", {"photo.jpg": SimpleUploadedFile("photo.jpg", b"\xff\xd8")})
    assert r.status_code == 400 and message(r)[1] == openrosa.NO_XML_PART


@pytest.mark.parametrize("size", [100_000, 1_300_000], ids=["part-over-limit", "body-over-limit"])
def test_an_attachment_over_the_limit_is_refused_and_nothing_is_stored(
    phone, base, form_version, settings, size
):
    settings.MAX_UPLOAD_BYTES = 64 * 1024
    raw = instance_xml("uuid:6f1e2b1c-0008")
    r = phone.post(
        f"{base}/submission", multipart(raw, ("small.jpg", b"\xff\xd8"), ("video.mp4", b"\0" * size))
    )
    assert r.status_code == 413
    assert "Nothing was stored" in message(r)[1] and "0.1 MB" in message(r)[1]
    assert Submission.objects.count() == 0 and Attachment.objects.count() == 0


# ---------------------------------------------------------------- who may talk to the server


def test_no_credentials_get_a_digest_challenge(client, base, form_version, settings):
    settings.DEBUG = False
    r = client.get(f"{base}/formList")
    assert r.status_code == 401 and r["X-OpenRosa-Version"] == "1.0"
    header = r["WWW-Authenticate"]
    assert header.startswith('Digest realm="Mobility", qop="auth", algorithm=MD5, nonce="')
    assert f'domain="{base}/"' in header
    assert "Basic" not in header  # plain HTTP, not DEBUG: Basic is not offered


def test_a_wrong_password_is_challenged_again(client, base, form_version, enumerator):
    r = Phone(client, enumerator.username, "not-the-password").get(f"{base}/formList")
    assert r.status_code == 401 and "Digest realm=" in r["WWW-Authenticate"]
    assert message(r)[1] == auth.AUTH_FAILED


def test_a_digest_signed_for_another_address_is_refused(client, base, form_version, enumerator):
    phone = Phone(client, enumerator.username)
    phone.get(f"{base}/formList")
    signed = phone.authorization("GET", f"{base}/forms/household_visit/form.xml")
    assert client.get(f"{base}/formList", HTTP_AUTHORIZATION=signed).status_code == 401


def test_an_old_nonce_is_stale_and_the_phone_signs_again_silently(
    client, base, form_version, enumerator, settings
):
    phone = Phone(client, enumerator.username)
    phone.nonce, phone.realm = auth.nonce_issue(now=time.time() - 3600), "Mobility"
    r = phone.get(f"{base}/formList")
    assert r.status_code == 401 and "stale=true" in r["WWW-Authenticate"]
    phone.nonce = parse_challenge(r["WWW-Authenticate"])["nonce"]
    assert phone.get(f"{base}/formList").status_code == 200


def test_an_inactive_user_is_refused(client, base, form_version, enumerator):
    enumerator.is_active = False
    enumerator.save()
    assert Phone(client, enumerator.username).get(f"{base}/formList").status_code == 401


def test_a_changed_password_changes_the_digest(client, base, form_version, enumerator):
    enumerator.set_password("a-new-long-passphrase")
    enumerator.save()
    assert DigestCredential.objects.get(user=enumerator).ha1 == md5("enum:Mobility:a-new-long-passphrase")
    assert Phone(client, "enum").get(f"{base}/formList").status_code == 401
    assert Phone(client, "enum", "a-new-long-passphrase").get(f"{base}/formList").status_code == 200


@pytest.mark.parametrize(
    "who, status", [("outsider", 403), ("viewer", 403), ("data_manager", 200), ("admin_user", 200)]
)
def test_only_members_allowed_to_submit_can_list(request, client, base, form_version, who, status):
    user = request.getfixturevalue(who)
    r = Phone(client, user.username).get(f"{base}/formList")
    assert r.status_code == status


def test_a_member_of_another_operation_can_neither_download_nor_submit(client, base, form_version, outsider):
    phone = Phone(client, outsider.username)
    assert phone.get(f"{base}/forms/household_visit/form.xml").status_code == 403
    r = phone.post(f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0009")))
    assert r.status_code == 403 and "enumerator role" in message(r)[1]
    assert Submission.objects.count() == 0
    # Their own operation has no such form: the phone learns nothing about this one.
    own = f"/collect/{outsider.memberships.get().operation.slug}"
    assert ET.fromstring(phone.get(f"{own}/formList").content).findall("x:xform", LIST_NS) == []
    assert phone.post(f"{own}/submission", multipart(instance_xml("uuid:6f1e2b1c-0009"))).status_code == 404


def test_an_unknown_operation_is_404(phone, form_version):
    r = phone.client.get("/collect/no-such-operation/formList")
    assert r.status_code == 404 and "no-such-operation" in message(r)[1]


def basic(username: str, password: str = PASSWORD) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_basic_over_plain_http_is_refused_unless_allowed(client, base, form_version, enumerator, settings):
    settings.DEBUG, settings.OPENROSA_ALLOW_BASIC_HTTP = False, False
    r = client.get(f"{base}/formList", HTTP_AUTHORIZATION=basic("enum"))
    assert r.status_code == 401 and message(r)[1] == auth.BASIC_NEEDS_HTTPS
    assert "Basic" not in r["WWW-Authenticate"]
    assert client.get(f"{base}/formList", HTTP_AUTHORIZATION=basic("enum"), secure=True).status_code == 200
    secure_challenge = client.get(f"{base}/formList", secure=True)["WWW-Authenticate"]
    assert secure_challenge.index("Digest") < secure_challenge.index('Basic realm="Mobility"')
    settings.OPENROSA_ALLOW_BASIC_HTTP = True
    assert client.get(f"{base}/formList", HTTP_AUTHORIZATION=basic("enum")).status_code == 200
    assert (
        client.get(f"{base}/formList", HTTP_AUTHORIZATION=basic("enum", "wrong-password")).status_code == 401
    )


def test_basic_sign_in_records_a_missing_digest_credential(client, base, form_version, enumerator):
    DigestCredential.objects.filter(user=enumerator).delete()
    assert client.get(f"{base}/formList", HTTP_AUTHORIZATION=basic("enum"), secure=True).status_code == 200
    assert Phone(client, "enum").get(f"{base}/formList").status_code == 200


def test_the_recording_backend_gives_digest_to_accounts_made_without_set_password(
    client, base, form_version, enumerator
):
    DigestCredential.objects.filter(user=enumerator).delete()  # as after create_user / createsuperuser
    assert Phone(client, "enum").get(f"{base}/formList").status_code == 401
    assert auth.DigestRecordingBackend().authenticate(None, username="enum", password=PASSWORD) == enumerator
    assert Phone(client, "enum").get(f"{base}/formList").status_code == 200
    assert (
        auth.DigestRecordingBackend().authenticate(None, username="enum", password="wrong-password") is None
    )


def test_a_browser_session_lists_and_submits_with_the_openrosa_header(client, base, form_version, enumerator):
    client.force_login(enumerator)
    assert client.get(f"{base}/formList").status_code == 200
    data = multipart(instance_xml("uuid:6f1e2b1c-0010"))
    refused = client.post(f"{base}/submission", data)
    assert refused.status_code == 403 and message(refused)[1] == openrosa.SESSION_NEEDS_HEADER
    r = client.post(
        f"{base}/submission", multipart(instance_xml("uuid:6f1e2b1c-0010")), HTTP_X_OPENROSA_VERSION="1.0"
    )
    assert r.status_code == 201 and Submission.objects.get().submitted_by == enumerator
