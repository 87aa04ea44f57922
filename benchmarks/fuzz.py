"""Mutation fuzzing of every parser that reads untrusted bytes or text (run via ``scripts/fuzz``).

Each parser is fed mutations of valid seed inputs (the committed fixture PKI, and inputs built
from it deterministically) plus some purely random inputs. An *escape* is any exception that
is not the parser's own documented error (``twcert.errors.TwcertError`` subclasses; for the
raw DER readers, ``twcert._der.DERError``). The run is deterministic by ``--seed``: the same
seed, count and parser give the same inputs. Every escape is printed with a one-line
reproducer, and the exit status is 1 if there was any.

    scripts/fuzz                                   # every parser, 10^6 inputs each
    scripts/fuzz --parser certificate --count 100000 --seed 7
    scripts/fuzz --parser ocsp --replay 3082…      # re-run one input, show the traceback
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))  # fuzz this checkout, not whatever twcert is installed

from asn1crypto import ocsp as asn1_ocsp  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402
from cryptography.hazmat.primitives.serialization import pkcs7  # noqa: E402

from twcert import _der  # noqa: E402
from twcert.agency.orglist import COLUMNS, load_orglist  # noqa: E402
from twcert.card.cms import build_signed_data  # noqa: E402
from twcert.certificate import TaiwanCertificate, load_certificate, load_certificates  # noqa: E402
from twcert.errors import TwcertError  # noqa: E402
from twcert.hipki import HipkiSignResponse  # noqa: E402
from twcert.revocation.crl_index import CRLIndex  # noqa: E402
from twcert.revocation.ocsp import OCSPClient  # noqa: E402
from twcert.signature import verify_cms, verify_pkcs1  # noqa: E402
from twcert.testing import build_ocsp_response  # noqa: E402
from twcert.testing.fixtures import FixtureSet  # noqa: E402

#: The largest mutated input (the parsers' own limits are 64 KB to 1 MB).
MAX_INPUT = 96 * 1024
_INTERESTING = bytes((0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x0C, 0x13, 0x17, 0x18, 0x1F, 0x30, 0x31))
_INTERESTING += bytes((0x7F, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0xA0, 0xA1, 0xA3, 0xFF))
_LENGTHS = (
    b"\x80",
    b"\x81\x00",
    b"\x81\xff",
    b"\x82\xff\xff",
    b"\x84\x7f\xff\xff\xff",
    b"\x85\x01\x00\x00\x00\x00",
)


def mutate(rng: random.Random, data: bytes, seeds: list[bytes]) -> bytes:
    """One to eight random edits of ``data``: bit flips, interesting bytes, DER length forms,
    deletions, insertions, duplications, truncation, splices of other seeds, long runs."""
    if rng.random() < 0.02:
        return rng.randbytes(rng.randrange(256))
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3, 4, 8))):
        if not buf:
            buf += rng.randbytes(rng.randint(1, 8))
            continue
        pos = rng.randrange(len(buf))
        op = rng.randrange(11)
        if op == 0:
            buf[pos] ^= 1 << rng.randrange(8)
        elif op in (1, 2):
            buf[pos] = rng.randrange(256) if op == 1 else rng.choice(_INTERESTING)
        elif op == 3:
            del buf[pos : pos + rng.randint(1, 16)]
        elif op == 4:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 5:
            buf[pos:pos] = buf[pos : pos + rng.randint(1, 64)]
        elif op == 6:
            del buf[pos:]
        elif op == 7:
            other = rng.choice(seeds)
            start = rng.randrange(len(other)) if other else 0
            buf[pos:] = other[start:]
        elif op == 8:
            buf[pos : pos + 1] = rng.choice(_LENGTHS)
        elif op == 9:
            buf[pos:pos] = bytes((buf[pos],)) * rng.choice((16, 300, 5000, 40000))
        else:
            buf[pos] = (buf[pos] + rng.choice((-1, 1))) & 0xFF
    return bytes(buf[:MAX_INPUT])


# -- structure-aware mutation: DER as a tree, edited and re-encoded with correct lengths -----------

Node = list  # [tag, bytes | list[Node], encapsulated]: children of a constructed element, or of
# an OCTET STRING whose content is itself DER (extension values, OCSP's BasicOCSPResponse)

_TAGS = (
    0x01,
    0x02,
    0x03,
    0x04,
    0x05,
    0x06,
    0x0A,
    0x0C,
    0x13,
    0x16,
    0x17,
    0x18,
    0x1E,
    0x30,
    0x31,
    0x80,
    0xA0,
    0xA3,
)
_SMALL = (
    b"",
    b"\x00",
    b"\x07",
    b"\x0b",
    b"\x7f",
    b"\x80",
    b"\xff",
    b"\x00\x00\x00\x00\x00\x01",
    b"\xff" * 40,
)
_TIMES = (
    b"99991231235959Z",
    b"991231235959Z",
    b"500101000000Z",
    b"20230229000000Z",
    b"2402291200Z",
    b"00000101000000Z",
)
_STRINGS = (b"\xff\xfe", b"\xc3", b"\x00", b"A" * 300, "測試".encode("utf-16-be")[:3], b"\xed\xa0\x80")


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes((tag, size)) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes((tag, 0x80 | len(length))) + length + body


def _parse_tree(buf: bytes, depth: int = 0) -> list[Node] | None:
    """The elements of ``buf`` if it is exactly a sequence of DER elements, else None."""
    nodes: list[Node] = []
    pos = 0
    while pos < len(buf):
        try:
            tag, start, end = _der.read_header(buf, pos, len(buf))
        except _der.DERError:
            return None
        content = buf[start:end]
        children = _parse_tree(content, depth + 1) if depth < 12 and (tag & 0x20 or tag == 0x04) else None
        if tag & 0x20 and children is None:
            return None
        nodes.append(
            [tag, children if children is not None else content, tag == 0x04 and children is not None]
        )
        pos = end
    return nodes


def _encode(nodes: list[Node]) -> bytes:
    return b"".join(_tlv(tag, body if isinstance(body, bytes) else _encode(body)) for tag, body, _ in nodes)


def _all_nodes(nodes: list[Node], into: list[tuple[list[Node], int]]) -> list[tuple[list[Node], int]]:
    for i, node in enumerate(nodes):
        into.append((nodes, i))
        if not isinstance(node[1], bytes):
            _all_nodes(node[1], into)
    return into


def _copy(nodes: list[Node]) -> list[Node]:
    return [[tag, body if isinstance(body, bytes) else _copy(body), enc] for tag, body, enc in nodes]


def mutate_tree(rng: random.Random, nodes: list[Node], oids: list[bytes]) -> None:
    """One to three edits of a DER tree: a tag swapped, an element duplicated or dropped, an OID
    swapped for another, a small INTEGER/ENUMERATED value, a time, or string bytes replaced."""
    for _ in range(rng.choice((1, 1, 2, 3))):
        places = _all_nodes(nodes, [])
        if not places:
            return
        parent, i = rng.choice(places)
        node = parent[i]
        op = rng.randrange(8)
        if op == 0:
            node[0] = rng.choice(_TAGS)
            if node[0] & 0x20 == 0 and not isinstance(node[1], bytes):
                node[1] = _encode(node[1])
        elif op == 1:
            parent.insert(i, _copy([node])[0])
        elif op == 2:
            del parent[i]
        elif op == 3 or node[0] == 0x06:
            node[0], node[1] = 0x06, rng.choice(oids)
        elif node[0] in (0x01, 0x02, 0x0A, 0x03) or op == 4:
            node[1] = rng.choice(_SMALL)
        elif node[0] in (0x17, 0x18) or op == 5:
            node[1] = rng.choice(_TIMES)
        elif op == 6:
            node[1] = rng.choice(_STRINGS)
        else:
            node[1] = rng.randbytes(rng.randrange(1, 24))


@dataclass(frozen=True)
class Signed:
    """Where a seed's signed part and signature sit (paths of child indexes), and the key that
    signs it again after a structural edit, so the edit reaches the fields read after the
    signature check."""

    tbs: tuple[int, ...]
    signature: tuple[int, ...]
    key: rsa.RSAPrivateKey


def _at(nodes: list[Node], path: tuple[int, ...]) -> Node:
    node: Node = [0, nodes, False]
    for index in path:
        node = node[1][index]
    return node


@dataclass(frozen=True)
class Target:
    """A parser: how to call it, what it may raise, and where its inputs start from."""

    name: str
    run: Callable[[bytes], object]
    allowed: tuple[type[BaseException], ...]
    seeds: list[bytes]
    #: How to write the input in a reproducer (the call ``run`` makes).
    call: str
    #: Text fragments worth inserting (repeated) into inputs of a text format.
    tokens: tuple[bytes, ...] = ()
    #: How to re-sign each seed (by index) after a structural edit of its signed part.
    signed: dict[int, Signed] | None = None


def _touch_certificate(cert: TaiwanCertificate) -> None:
    """Read every lazily decoded field: a malformed name fails only on first access."""
    repr(cert)
    for name in ("subject", "issuer", "holder_name", "subject_serial", "family", "is_test", "is_self_signed"):
        getattr(cert, name)
    cert.masked()


def _stamp_produced_at(der: bytes, key: rsa.RSAPrivateKey) -> bytes:
    """cryptography stamps producedAt with the wall clock: fix it so the seed is the same on
    every run, and sign again (PKCS#1 v1.5 signatures are deterministic)."""
    basic = asn1_ocsp.OCSPResponse.load(der)["response_bytes"]["response"].parsed
    tbs = basic["tbs_response_data"]
    produced = tbs["produced_at"].dump()
    old_tbs = tbs.dump()
    new_tbs = old_tbs.replace(produced, b"\x18\x0f20260601090000Z", 1)
    old_signature = basic["signature"].native
    new_signature = key.sign(new_tbs, padding.PKCS1v15(), hashes.SHA256())
    return der.replace(old_tbs, new_tbs).replace(old_signature, new_signature)


def build_targets(workdir: Path) -> dict[str, Target]:
    fixtures = FixtureSet.load(ROOT / "fixtures" / "gpki")
    now = fixtures.now
    pki = fixtures.pki
    moica = pki.cas["MOICA2"]
    ca_cert = load_certificate(moica.der)
    ee_names = ("citizen-wang", "agency-dgpa", "business-moeaca")
    ee_der = [load_certificate(fixtures.pem(name)).der for name in ee_names]
    ca_der = [pki.cas[label].der for label in ("GRCA2", "MOICA2", "MOEACA")]
    wang = fixtures.issued("citizen-wang")
    wang_cert = load_certificate(wang.der)
    tbs = b"twcert-login/1 https://jobs.example.gov.tw abc123 bm9uY2U"

    def card_sign(data: bytes) -> bytes:
        return wang.key.sign(data, padding.PKCS1v15(), hashes.SHA256())

    cms_seeds = [
        build_signed_data(tbs, wang.der, card_sign, signing_time=now, card_serial="TP00000000000001"),
        build_signed_data(
            tbs, wang.der, card_sign, signing_time=now, nonce=b"n" * 16, extra_certificates=ca_der[1:2]
        ),
    ]
    pkcs1_seed = card_sign(tbs)

    def run_certificate(data: bytes) -> None:
        _touch_certificate(load_certificate(data))

    def run_certificates(data: bytes) -> None:
        for cert in load_certificates(data):
            _touch_certificate(cert)

    def run_cms(data: bytes) -> None:
        verify_cms(data, tbs, now=now)
        verify_cms(data, tbs, certificate=wang_cert, now=now)

    def run_pkcs1(data: bytes) -> None:
        verify_pkcs1(data, tbs, wang_cert)

    ocsp_seeds = []
    target = fixtures.issued("citizen-wang")
    for status in ("good", "revoked", "unknown"):
        der = build_ocsp_response(
            moica, target, status, this_update=now, next_update=now + dt.timedelta(days=1), nonce=b"n" * 16
        )
        ocsp_seeds.append(_stamp_produced_at(der, moica.key))
    client = OCSPClient()

    def run_ocsp(data: bytes) -> None:
        client.verify_response(data, wang_cert, ca_cert, now, nonce=b"n" * 16)

    crl_seeds = [
        fixtures.crl(name) for name in ("MOICA2-complete", "MOICA2-partition-1", "MOICA2-old-with-hold")
    ]
    serials = [load_certificate(der).serial_number for der in ee_der]

    def run_crl(data: bytes) -> None:
        index = CRLIndex.from_der(data, issuer=ca_cert)
        for serial in serials:
            index.lookup(serial)
        index.is_fresh(now)

    index_path = workdir / "fuzz.idx"
    index_seeds = []
    for crl in crl_seeds:
        CRLIndex.from_der(crl, issuer=ca_cert).save(index_path)
        index_seeds.append(index_path.read_bytes())

    def run_crl_index(data: bytes) -> None:
        index_path.write_bytes(data)
        with CRLIndex.open(index_path, issuer=ca_cert) as index:
            for serial in serials:
                index.lookup(serial)
            index.is_fresh(now)

    response = HipkiSignResponse(0, None, pkcs1_seed, ee_der[0].hex(), "TP00000000000001")
    hipki_seeds = [
        json.dumps(response.to_dict()).encode(),
        json.dumps({"ret_code": "0x76100006", "last_error": "2147483649", "func": "sign"}).encode(),
        b'{"ret_code": 0, "signature": "", "certb64": null, "cardSN": "X", "message": "\\u6e2c"}',
    ]

    def run_hipki(data: bytes) -> None:
        HipkiSignResponse.parse(data)
        HipkiSignResponse.parse(data.decode("utf-8", "replace"))

    rows = [
        "A09000000E,行政院人事行政總處,DGPA,100,臺北市中正區濟南路1段2-2號,02-23979298,A00000000A,行政院,,20120206,,2,,,",
        "379000000A,臺北縣政府,,220,,,,,,19500101,20101225,1,是,382000000A,新北市政府",
        "382000000A,新北市政府,New Taipei City Government,220,,,,,,20101225,,1,,,",
    ]
    text = "\r\n".join([",".join(COLUMNS), *rows]) + "\r\n"
    orglist_seeds = [text.encode("cp950"), b"\xef\xbb\xbf" + text.encode("utf-8")]

    def run_orglist(data: bytes) -> None:
        load_orglist(data)

    sda = b""
    ext = load_certificate(ee_der[0]).certificate.extensions
    for extension in ext:
        if extension.oid.dotted_string == "2.5.29.9":
            sda = extension.value.public_bytes()
    names = [load_certificate(der).subject_der for der in ee_der]
    times = [b"\x17\x0d260601090000Z", b"\x18\x0f99991231235959Z"]

    def run_der(data: bytes) -> None:
        for reader in (
            _der.certificate_names,
            _der.name_attributes,
            _der.read_subject_directory_attributes,
            _der.read_signed_data,
            _der.read_tlv,
        ):
            with contextlib.suppress(_der.DERError):
                reader(data)
        if data:
            with contextlib.suppress(_der.DERError):
                _der.decode_oid(data[1:])
            with contextlib.suppress(_der.DERError):
                _der.parse_time(data[0], data[2:])

    bundle = b"".join(
        load_certificate(der).certificate.public_bytes(serialization.Encoding.PEM) for der in ca_der
    )
    p7b = pkcs7.serialize_certificates(
        [load_certificate(der).certificate for der in ca_der], serialization.Encoding.DER
    )
    return {
        t.name: t
        for t in (
            Target("certificate", run_certificate, (TwcertError,), ee_der + ca_der, "load_certificate(x)"),
            Target(
                "certificates",
                run_certificates,
                (TwcertError,),
                [bundle, p7b, ee_der[0]],
                "load_certificates(x)",
            ),
            Target("cms", run_cms, (TwcertError,), cms_seeds, "verify_cms(x, tbs, now=now)"),
            Target("pkcs1", run_pkcs1, (TwcertError,), [pkcs1_seed], "verify_pkcs1(x, tbs, cert)"),
            Target(
                "ocsp",
                run_ocsp,
                (TwcertError,),
                ocsp_seeds,
                "OCSPClient().verify_response(x, …)",
                signed={
                    i: Signed((0, 1, 0, 1, 0, 0), (0, 1, 0, 1, 0, 2), moica.key)
                    for i in range(len(ocsp_seeds))
                },
            ),
            Target(
                "crl",
                run_crl,
                (TwcertError,),
                crl_seeds,
                "CRLIndex.from_der(x, issuer=ca)",
                signed={i: Signed((0, 0), (0, 2), moica.key) for i in range(len(crl_seeds))},
            ),
            Target("crl_index", run_crl_index, (TwcertError,), index_seeds, "CRLIndex.open(file of x)"),
            Target(
                "hipki",
                run_hipki,
                (TwcertError,),
                hipki_seeds,
                "HipkiSignResponse.parse(x)",
                tokens=(
                    b"[",
                    b'{"a":',
                    b'"',
                    b"\\ud800",
                    b"1e999",
                    b"-0x",
                    b"null",
                    b",",
                    b"\xff",
                    b"\xef\xbb\xbf",
                ),
            ),
            Target(
                "orglist",
                run_orglist,
                (TwcertError,),
                orglist_seeds,
                "load_orglist(x)",
                tokens=(
                    b'"',
                    b",",
                    b"\r\n",
                    b"\n",
                    b"\x00",
                    b"\xef\xbb\xbf",
                    b"\xa4",
                    b"\xff",
                    b"A09000000E,",
                ),
            ),
            Target("der", run_der, (), ee_der + names + [sda, *cms_seeds, *times], "twcert._der readers(x)"),
        )
    }


def inputs(target: Target, count: int, seed: int) -> Iterator[bytes]:
    """``count`` inputs: a third structural edits of a seed's DER tree (re-signed where the seed
    is signed), the rest byte-level edits (with text tokens for text formats)."""
    rng = random.Random(f"{seed}:{target.name}")
    trees = [_parse_tree(s) for s in target.seeds]
    oids = sorted(
        {
            bytes(body)
            for tree in trees
            if tree
            for parent, i in _all_nodes(tree, [])
            for tag, body, _ in [parent[i]]
            if tag == 0x06
        }
    )
    oids += [
        bytes.fromhex("2a864886f70d010701"),
        b"\x2a" + b"\x81" * 30 + b"\x01",
        b"\x2a" + b"\x01" * 80,
        b"\x80\x01",
        b"",
    ]
    for _ in range(count):
        index = rng.randrange(len(target.seeds))
        data = target.seeds[index]
        tree = trees[index]
        choice = rng.random()
        if tree is not None and choice < 0.34:
            edited = _copy(tree)
            signed = (target.signed or {}).get(index)
            if signed is not None and rng.random() < 0.8:
                tbs = _at(edited, signed.tbs)
                mutate_tree(rng, [tbs], oids)
                tbs_der = _encode([tbs])
                signature = signed.key.sign(tbs_der, padding.PKCS1v15(), hashes.SHA256())
                _at(edited, signed.signature)[1] = b"\x00" + signature
            else:
                mutate_tree(rng, edited, oids)
            data = _encode(edited)
            if rng.random() < 0.2:
                data = mutate(rng, data, target.seeds)
            yield data[:MAX_INPUT]
        elif target.tokens and choice < 0.67:
            buf = bytearray(data)
            for _ in range(rng.choice((1, 1, 2, 3))):
                pos = rng.randrange(len(buf) + 1)
                buf[pos:pos] = rng.choice(target.tokens) * rng.choice((1, 1, 2, 10, 1000, 50000))
            yield bytes(buf[:MAX_INPUT])
        else:
            yield mutate(rng, data, target.seeds)


def run_one(target: Target, data: bytes) -> BaseException | None:
    """The escape ``data`` causes, or None."""
    try:
        target.run(data)
    except target.allowed:
        return None
    except Exception as exc:
        return exc
    return None


def reproducer(target: Target, data: bytes, seed: int, number: int) -> str:
    """One line that re-runs the input: by its hex when short, else by seed and number."""
    if len(data) <= 4096:
        return f"scripts/fuzz --parser {target.name} --replay {data.hex()}"
    return f"scripts/fuzz --parser {target.name} --seed {seed} --replay-number {number}"


def fuzz(target: Target, count: int, seed: int, max_report: int) -> int:
    started = time.perf_counter()
    escapes: dict[str, int] = {}
    slowest = (0.0, 0, b"")
    clock = time.process_time
    for number, data in enumerate(inputs(target, count, seed), 1):
        before = clock()
        escape = run_one(target, data)
        spent = clock() - before
        if spent > slowest[0]:
            slowest = (spent, number, data)
        if escape is not None:
            # One kind per exception type and the place it was raised (messages vary per input).
            frame = traceback.extract_tb(escape.__traceback__)[-1]
            kind = f"{type(escape).__name__} at {Path(frame.filename).name}:{frame.lineno}"
            escapes[kind] = escapes.get(kind, 0) + 1
            if escapes[kind] <= max_report:
                line = reproducer(target, data, seed, number)
                print(f"ESCAPE {target.name} #{number} {kind}: {str(escape)[:120]}\n  {line}", flush=True)
        if number % 100_000 == 0:
            print(
                f"  {target.name}: {number} inputs, {sum(escapes.values())} escapes",
                file=sys.stderr,
                flush=True,
            )
    elapsed = time.perf_counter() - started
    total = sum(escapes.values())
    print(
        f"{target.name:13} {count:>9} inputs  {total:>6} escapes  {elapsed:8.1f} s  "
        f"({elapsed / max(count, 1) * 1e6:.0f} µs/input)  seed {seed}",
        flush=True,
    )
    for kind, times in sorted(escapes.items(), key=lambda item: -item[1]):
        print(f"    {times:>6} × {kind}")
    spent, number, data = slowest
    print(
        f"    slowest: {spent * 1e3:.1f} ms CPU, {len(data)} bytes, #{number}  "
        f"(scripts/fuzz --parser {target.name} --seed {seed} --replay-number {number})"
    )
    return total


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parser", action="append", help="parser name (repeatable); default: all")
    parser.add_argument("--count", type=int, default=1_000_000, help="inputs per parser (default 10^6)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-report", type=int, default=3, help="reproducers printed per distinct escape")
    parser.add_argument("--replay", metavar="HEX", help="run one input (hex) and print what it raises")
    parser.add_argument("--replay-number", type=int, metavar="N", help="run input number N of --seed")
    parser.add_argument("--list", action="store_true", help="list the parsers")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(
        prefix="twcert-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    ) as tmp:
        targets = build_targets(Path(tmp))
        if args.list:
            for target in targets.values():
                print(f"{target.name:13} {target.call}")
            return 0
        names = args.parser or list(targets)
        unknown = [name for name in names if name not in targets]
        if unknown:
            parser.error(f"unknown parser(s) {', '.join(unknown)}; choose from {', '.join(targets)}")
        if args.replay is not None or args.replay_number is not None:
            if len(names) != 1:
                parser.error("--replay needs exactly one --parser")
            target = targets[names[0]]
            if args.replay is not None:
                data = bytes.fromhex(args.replay)
            else:
                *_, data = inputs(target, args.replay_number, args.seed)
            started = time.process_time()
            try:
                target.run(data)
            except target.allowed as exc:
                print(f"no escape: {type(exc).__name__}: {exc}")
                return 0
            except Exception:
                traceback.print_exc()
                return 1
            finally:
                print(
                    f"{len(data)} bytes, {(time.process_time() - started) * 1e3:.1f} ms CPU: {data[:64].hex()}…"
                )
            print("no escape: the input was accepted")
            return 0
        total = 0
        for name in names:
            total += fuzz(targets[name], args.count, args.seed, args.max_report)
        print(f"total escapes: {total}")
        return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
