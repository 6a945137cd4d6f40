"""``communectl``: the command line (README.md, Commands).

Every command takes ``--config F`` before or after its subcommand; the path defaults to
``$COMMUNECTL_CONFIG``, then ``/etc/communectl/config.toml``. When no config exists anywhere and
none was named, the embedded demo installation is used, so that a new user's first
``communectl run`` works and ``communectl token create`` talks to the demo's storage.

Exit status: 0 done, 1 runtime failure, 2 bad config or bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from datetime import date, datetime
from typing import Any

from controller.config import Config, config_path, load_config, require_installed
from controller.errors import EXPECTED, ConfigError, InvalidInput, NotFound
from controller.platform.clock import SystemClock
from controller.platform.tokens import ROLES

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
SPEECH_OUT = "speech.wav"  # where ``communectl speak TEXT`` writes when no --out is given


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not hasattr(args, "handler"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.handler(args) or EXIT_OK)
    except ConfigError as exc:
        for line in exc.lines():
            print(line, file=sys.stderr)
        return EXIT_USAGE
    except InvalidInput as exc:  # what the user typed: a usage error, as argparse's are
        print(f"communectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EXPECTED as exc:
        print(f"communectl: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        # Expected failures of the machine around us (a folder we may not write, a port in
        # use, a host name that does not resolve): one line, not a traceback.
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        print(f"communectl: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_FAILURE


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    # SUPPRESS keeps a --config given before the subcommand when none is given after it.
    common.add_argument("--config", default=argparse.SUPPRESS, metavar="F",
                        help="config file (default: $COMMUNECTL_CONFIG, then "
                             "/etc/communectl/config.toml)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS)
    parser = argparse.ArgumentParser(prog="communectl", parents=[common],
                                     description="Street lights and commune radio controller.")
    parser.set_defaults(config=None, verbose=False)
    sub = parser.add_subparsers(metavar="COMMAND")

    run = sub.add_parser("run", parents=[common], help="run the controller until stopped")
    run.add_argument("--demo", action="store_true",
                     help="the embedded demo: a simulated relay board and meter on 127.0.0.1")
    run.add_argument("--api-port", type=int, default=None, metavar="PORT",
                     help="listen on this port instead of the config's (0: any free port)")
    run.set_defaults(handler=_cmd_run)

    check = sub.add_parser("check", parents=[common], help="validate the config")
    check.set_defaults(handler=_cmd_check)

    plan = sub.add_parser("plan", parents=[common],
                          help="lighting transitions and broadcasts in a window")
    plan.add_argument("--from", dest="start", type=date.fromisoformat, default=None,
                      metavar="YYYY-MM-DD")
    plan.add_argument("--days", type=_positive_days, default=1)
    plan.add_argument("--format", choices=("table", "json", "ics"), default="table")
    plan.set_defaults(handler=_cmd_plan)

    report = sub.add_parser("report", parents=[common],
                            help="the monthly report of the radio and the lighting "
                                 "(docs/reports.md)")
    report.add_argument("--month", default=None, metavar="YYYY-MM",
                        help="a month of the site's time zone (default: the current one)")
    report.add_argument("--format", choices=("table", "csv", "xlsx", "html"), default="table")
    report.add_argument("--lang", choices=("vi", "en"), default="vi",
                        help="language of the table and the page (default vi)")
    report.add_argument("-o", "--output", default=None, metavar="FILE",
                        help="write here (default: standard output; report-YYYY-MM.xlsx "
                             "for xlsx)")
    report.set_defaults(handler=_cmd_report)

    token = sub.add_parser("token", parents=[common], help="API tokens")
    token_sub = token.add_subparsers(metavar="ACTION", required=True)
    create = token_sub.add_parser("create", parents=[common])
    create.add_argument("--role", required=True,
                        choices=ROLES)
    create.add_argument("--name", required=True)
    create.add_argument("--expires-days", type=_positive_days, default=None)
    create.set_defaults(handler=_cmd_token_create)
    listing = token_sub.add_parser("list", parents=[common])
    listing.set_defaults(handler=_cmd_token_list)
    revoke = token_sub.add_parser("revoke", parents=[common])
    revoke.add_argument("name")
    revoke.set_defaults(handler=_cmd_token_revoke)

    user = sub.add_parser("user", parents=[common], help="people's accounts (name and password)")
    user_sub = user.add_subparsers(metavar="ACTION", required=True)
    password_stdin = argparse.ArgumentParser(add_help=False)
    password_stdin.add_argument("--password-stdin", action="store_true",
                                help="read the password from the first line of standard input "
                                     "(default: ask twice at the terminal)")
    user_create = user_sub.add_parser("create", parents=[common, password_stdin])
    user_create.add_argument("--name", required=True)
    user_create.add_argument("--role", required=True, choices=ROLES)
    user_create.set_defaults(handler=_cmd_user_create)
    user_list = user_sub.add_parser("list", parents=[common])
    user_list.set_defaults(handler=_cmd_user_list)
    user_passwd = user_sub.add_parser("passwd", parents=[common, password_stdin],
                                      help="set a new password (also enables the account)")
    user_passwd.add_argument("name")
    user_passwd.set_defaults(handler=_cmd_user_passwd)
    user_disable = user_sub.add_parser("disable", parents=[common])
    user_disable.add_argument("name")
    user_disable.set_defaults(handler=_cmd_user_disable)

    notify = sub.add_parser("notify", parents=[common], help="alarm notifications")
    notify_sub = notify.add_subparsers(metavar="ACTION", required=True)
    notify_test = notify_sub.add_parser(
        "test", parents=[common],
        help="send a test message now, through the real channel (no controller needed)")
    notify_test.add_argument("--recipient", metavar="ID", default=None,
                             help="one recipient's id (default: every recipient)")
    notify_test.set_defaults(handler=_cmd_notify_test)

    devices = sub.add_parser("devices", parents=[common], help="probe every device once")
    devices.set_defaults(handler=_cmd_devices)

    fleet = sub.add_parser("fleet", parents=[common], help="many gateways on one MQTT broker")
    fleet_sub = fleet.add_subparsers(metavar="ACTION")
    broker = argparse.ArgumentParser(add_help=False)
    broker.add_argument("--broker", required=True, metavar="URL", type=_broker_url,
                        help="mqtt://host:port or mqtts://host:port")
    broker.add_argument("--prefix", default="communectl")
    broker.add_argument("--username")
    broker.add_argument("--password")
    broker.add_argument("--ca-file", metavar="FILE", default=None,
                        help="with mqtts://: the CA that signed the broker's certificate")
    broker.add_argument("--format", choices=("table", "json"), default="table")
    status = fleet_sub.add_parser("status", parents=[common, broker],
                                  help="every gateway seen, online or not, with its last state")
    status.add_argument("--listen", type=float, default=2.0, metavar="S",
                        help="the longest to wait for the retained messages, in seconds "
                             "(default 2; it ends as soon as they are in)")
    status.set_defaults(handler=_cmd_fleet_status)
    announce = fleet_sub.add_parser("announce", parents=[common, broker],
                                    help="one announcement to many gateways")
    announce.add_argument("--sites", required=True, help="site ids, comma-separated")
    announce.add_argument("--text", required=True, help="read out by each gateway's speech")
    announce.add_argument("--level", choices=("normal", "priority", "emergency"),
                          default="normal")
    announce.add_argument("--zones", default="all", help='"all" or zone ids, comma-separated')
    announce.add_argument("--timeout", type=float, default=10.0, metavar="S")
    announce.add_argument("--key-file", metavar="FILE", default=None,
                          help="sign with the province's key (gateways with "
                               'province_commands = "signed")')
    announce.set_defaults(handler=_cmd_fleet_announce)
    acl = fleet_sub.add_parser("acl", parents=[common],
                               help="write the province broker's mosquitto ACL file")
    acl.add_argument("--sites", required=True, help="site ids, comma-separated")
    acl.add_argument("--prefix", default="communectl")
    acl.add_argument("-o", "--output", metavar="FILE", default=None,
                     help="write here (default: standard output)")
    acl.set_defaults(handler=_cmd_fleet_acl)
    fleet_report = fleet_sub.add_parser(
        "report", parents=[common, broker], conflict_handler="resolve",
        help="the province's table of one month: a row per commune, from the retained "
             "reports (docs/reports.md)")
    fleet_report.add_argument("--month", required=True, metavar="YYYY-MM")
    fleet_report.add_argument("--format", choices=("table", "csv", "xlsx", "json"),
                              default="table")
    fleet_report.add_argument("-o", "--output", default=None, metavar="FILE",
                              help="write here (default: standard output; "
                                   "province-YYYY-MM.xlsx for xlsx)")
    fleet_report.add_argument("--listen", type=float, default=2.0, metavar="S",
                              help="the longest to wait for the retained reports, in "
                                   "seconds (default 2; it ends as soon as they are in)")
    fleet_report.add_argument("--timezone", default="Asia/Ho_Chi_Minh",
                              help="zone of the update times in the files")
    fleet_report.set_defaults(handler=_cmd_fleet_report)

    speak = sub.add_parser("speak", parents=[common],
                           help="read a text as the radio would (docs/speech.md)")
    speak.add_argument("text", metavar="TEXT", help='the notice; "-" reads it from stdin')
    speak.add_argument("--voice", default=None, metavar="V",
                       help="espeak-ng voice (default: the config's tts_voice, else vi)")
    speak.add_argument("--out", default=None, metavar="F.wav",
                       help=f"write the speech here (default without --show: {SPEECH_OUT})")
    speak.add_argument("--show", action="store_true",
                       help="print on one line the words that will be read")
    speak.set_defaults(handler=_cmd_speak)
    return parser


def _broker_url(text: str) -> str:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a URL: {exc}") from None
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname or (port is not None
                                                                       and not 0 < port < 65536):
        raise argparse.ArgumentTypeError(f"{text!r}: expected mqtt://host:port or "
                                         "mqtts://host:port")
    return text


def _positive_days(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 3660:
        raise argparse.ArgumentTypeError("must be 1..3660")
    return value


def _load(args: argparse.Namespace, *, demo_port: int = 0) -> tuple[Config, bool]:
    """The named config, else the default path, else the embedded demo; True if demo."""
    from controller import demo

    if getattr(args, "demo", False):
        return demo.demo_config(port=demo_port), True
    path = config_path(args.config)
    if args.config is None and not path.exists():
        print(f"communectl: no config at {path}; using the embedded demo installation",
              file=sys.stderr)
        return demo.demo_config(port=demo_port), True
    return load_config(path), False


def _load_runnable(args: argparse.Namespace, *, demo_port: int = 0) -> tuple[Config, bool]:
    """What ``check`` and ``run`` accept, alike: a valid config whose parts (MQTT, serial
    ports, speech, audio) are installed on this machine."""
    config, is_demo = _load(args, demo_port=demo_port)
    require_installed(config, source="embedded demo" if is_demo
                      else str(config_path(args.config)))
    return config, is_demo


def _cmd_check(args: argparse.Namespace) -> int:
    from controller.summary import summarise

    config, is_demo = _load_runnable(args)
    print(summarise(config, source="embedded demo" if is_demo else str(config_path(args.config))))
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from controller import demo

    return asyncio.run(demo.run_with_optional_demo(args, _load_runnable))


def _cmd_plan(args: argparse.Namespace) -> int:
    from controller.lighting.programs import site_of
    from controller.plan import (
        build_window_plan,
        read_only_sources,
        render_ics,
        render_table,
        window_bounds,
        window_problem,
    )

    config, _ = _load(args)
    site = site_of(config)
    clock = SystemClock()
    start_day = args.start or clock.now().astimezone(site.tz).date()
    problem = window_problem(start_day, args.days)
    if problem is not None:
        print(f"communectl plan: --{problem[0]}: {problem[1]}", file=sys.stderr)
        return EXIT_USAGE
    start, end = window_bounds(site, start_day, args.days)
    result = build_window_plan(config, read_only_sources(config), start=start, end=end)
    if args.format == "json":
        print(json.dumps([e.as_json() for e in result.entries], ensure_ascii=False, indent=1))
        for note in result.notes:
            print(f"skipped {note.day} {note.program} {note.rule}: {note.reason}",
                  file=sys.stderr)
    elif args.format == "ics":
        sys.stdout.write(render_ics(result, site_id=config.site.id, generated=clock.now()))
    else:
        print(render_table(result, site))
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    """Read from the data folder, as every offline command does: what the running
    controller has not yet stored (at most a quarter hour of on-time) is not in it."""
    from importlib import resources
    from pathlib import Path
    from zoneinfo import ZoneInfo

    from controller.reports import page, text, xlsx
    from controller.reports.monthly import Month, build_monthly_report, check_not_future
    from controller.reports.sources import from_data_folder

    config, _ = _load(args)
    tz = ZoneInfo(config.site.timezone)
    now = SystemClock().now()
    month = Month.parse(args.month) if args.month is not None else Month.containing(now, tz)
    check_not_future(month, now=now, tz=tz)
    report = build_monthly_report(config, month, from_data_folder(config, month), now=now)
    if args.format == "xlsx":
        body = xlsx.render(report)
    elif args.format == "csv":
        body = text.to_table_csv(report)
    elif args.format == "html":
        # A file opened from disk has no origin to load the stylesheet from: it goes inside.
        css = resources.files("controller.http").joinpath("static/report.css").read_text(
            encoding="utf-8")
        body = page.render(report, lang=args.lang, inline_css=css).encode()
    else:
        body = text.to_text(report, lang=args.lang).encode()
    output = args.output or (f"report-{month}.xlsx" if args.format == "xlsx" else None)
    if output is None or output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return EXIT_OK
    Path(output).write_bytes(body)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _token_registry(args: argparse.Namespace):
    from controller.platform.store import Store
    from controller.platform.tokens import TokenRegistry

    config, _ = _load(args)
    return TokenRegistry(Store(config.storage.path))


def _cmd_token_create(args: argparse.Namespace) -> int:
    registry = _token_registry(args)
    try:
        secret, info = registry.create(name=args.name, role=args.role,
                                       expires_days=args.expires_days, now=SystemClock().now())
    except ValueError as exc:
        print(f"communectl: {exc}", file=sys.stderr)
        return EXIT_USAGE
    expires = info.expires_at.isoformat() if info.expires_at else "never"
    print(f"token {info.name} ({info.role}), expires {expires}. Keep this secret; "
          "it is not shown again:")
    print(secret)
    return EXIT_OK


def _cmd_token_list(args: argparse.Namespace) -> int:
    registry = _token_registry(args)
    print(f"{'name':<20} {'role':<11} {'created':<26} expires")
    for info in registry.list():
        expires = info.expires_at.isoformat() if info.expires_at else "never"
        created = info.created_at.isoformat() if isinstance(info.created_at, datetime) \
            else str(info.created_at)
        print(f"{info.name:<20} {info.role:<11} {created:<26} {expires}")
    return EXIT_OK


def _cmd_token_revoke(args: argparse.Namespace) -> int:
    if _token_registry(args).revoke(args.name):
        print(f"revoked {args.name}")
        return EXIT_OK
    print(f"communectl: no token named {args.name!r}", file=sys.stderr)
    return EXIT_FAILURE


def _user_book(args: argparse.Namespace):  # returns controller.platform.users.UserBook
    from controller.platform.store import Store
    from controller.platform.users import UserBook

    config, _ = _load(args)
    return UserBook(Store(config.storage.path))


def _new_password(args: argparse.Namespace) -> str | None:
    """The password from stdin or asked twice at the terminal; None after a message."""
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        print("communectl: no terminal to ask the password at; use --password-stdin",
              file=sys.stderr)
        return None
    first = getpass.getpass("New password: ")
    if getpass.getpass("Again: ") != first:
        print("communectl: the two passwords differ; nothing changed", file=sys.stderr)
        return None
    return first


def _cmd_user_create(args: argparse.Namespace) -> int:
    book = _user_book(args)
    password = _new_password(args)
    if password is None:
        return EXIT_USAGE
    user = book.create(name=args.name, role=args.role, password=password,
                       now=SystemClock().now())
    print(f"user {user.name} ({user.role}) created")
    return EXIT_OK


def _cmd_user_list(args: argparse.Namespace) -> int:
    print(f"{'name':<20} {'role':<11} {'state':<9} password changed")
    for user in _user_book(args).list():
        state = "disabled" if user.disabled else "locked" if user.is_locked(
            at=SystemClock().now()) else "active"
        print(f"{user.name:<20} {user.role:<11} {state:<9} "
              f"{user.password_changed_at.isoformat(timespec='seconds')}")
    return EXIT_OK


def _cmd_user_passwd(args: argparse.Namespace) -> int:
    book = _user_book(args)
    if book.get(args.name) is None:
        print(f"communectl: no user named {args.name!r}", file=sys.stderr)
        return EXIT_FAILURE
    password = _new_password(args)
    if password is None:
        return EXIT_USAGE
    book.set_password(args.name, password, now=SystemClock().now())
    print(f"password of {args.name} changed")
    return EXIT_OK


def _cmd_user_disable(args: argparse.Namespace) -> int:
    book = _user_book(args)
    if book.get(args.name) is None:
        print(f"communectl: no user named {args.name!r}", file=sys.stderr)
        return EXIT_FAILURE
    book.disable(args.name)
    print(f"user {args.name} disabled; `communectl user passwd {args.name}` enables it again")
    return EXIT_OK


def _cmd_notify_test(args: argparse.Namespace) -> int:
    """Send a test to one recipient or each, as the controller would (its recipients: as an
    admin stored them, else the config's), and log it in the events. 1 if one failed."""
    from controller.notify.channels import build_channels
    from controller.notify.service import NotifyService
    from controller.platform.history import History
    from controller.platform.store import Store

    config, _ = _load(args)
    clock = SystemClock()
    events = History(config.storage.path / "history", "events")

    def note(kind: str, target: str, message: str, *, severity: str = "info",
             **details: object) -> None:
        # As the alarm book notes an event, without the book (its open alarms are the
        # controller's): one line in the same history.
        events.append({"type": "event", "severity": severity, "kind": kind, "target": target,
                       "message": message, **details}, at=clock.now())

    settings = config.notify
    service = NotifyService(config=config, store=Store(config.storage.path), events=events,
                            clock=clock, note=note,
                            channels=build_channels(settings.sms, settings.email,
                                                    settings.webhook))
    if args.recipient is None and not service.recipients():
        raise InvalidInput("no recipients: add [[notify.recipients]] to the config")

    async def send() -> list[Any]:
        try:
            return await service.send_test(args.recipient)
        finally:
            await service.close()

    try:
        results = asyncio.run(send())
    except NotFound as exc:
        raise InvalidInput(exc.message, parts=("--recipient",)) from None
    for result in results:
        if result.ok:
            print(f"{result.recipient}: sent by {result.channel} to {result.address} "
                  f"({result.message_id})")
        else:
            again = "; may work later" if result.retryable else ""
            print(f"{result.recipient}: NOT sent by {result.channel} to {result.address}: "
                  f"{result.error}{again}", file=sys.stderr)
    return EXIT_OK if all(r.ok for r in results) else EXIT_FAILURE


def _cmd_devices(args: argparse.Namespace) -> int:
    from controller.platform.devices import DeviceManager

    config, _ = _load(args)

    async def probe_all() -> list[dict]:
        manager = DeviceManager(config, SystemClock())
        try:
            return [await manager.probe(d.id) for d in config.devices]
        finally:
            await manager.close()

    results = asyncio.run(probe_all())
    for r in results:
        status = f"ok {r['latency_ms']} ms" if r["reachable"] else f"UNREACHABLE: {r['error']}"
        print(f"{r['id']:<16} {status}")
        if r["read"]:
            print(f"{'':<16} {json.dumps(r['read'], ensure_ascii=False)}")
    return EXIT_OK if all(r["reachable"] for r in results) else EXIT_FAILURE


def _fleet_connect(args: argparse.Namespace):  # returns firmware_bridge's connection
    from firmware_bridge.bridge import connect

    return lambda: connect(args.broker, client_id=None, username=args.username,
                           password=args.password, ca_file=args.ca_file)


def _cmd_fleet_status(args: argparse.Namespace) -> int:
    from firmware_bridge.bridge import broker_errors
    from firmware_bridge.fleet import fleet_status

    with broker_errors(args.broker):
        gateways = asyncio.run(fleet_status(_fleet_connect(args), args.prefix,
                                            listen_s=args.listen))
    if args.format == "json":
        print(json.dumps([g.as_json() for g in gateways], ensure_ascii=False, indent=2))
        return EXIT_OK
    if not gateways:
        print(f"no gateway has published under {args.prefix}/ on {args.broker}")
    for g in gateways:
        on = sum(c.get("state") == "on" for c in g.circuits.values())
        air = (g.broadcast or {}).get("title", "-")
        print(f"{g.site:<24} {g.status:<8} circuits {on}/{len(g.circuits)} on   on air: {air}")
    return EXIT_OK


def _cmd_fleet_announce(args: argparse.Namespace) -> int:
    from firmware_bridge.fleet import fleet_announce

    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    zones = "all" if args.zones == "all" else [z.strip() for z in args.zones.split(",")]
    announcement = {"source": {"type": "tts", "text": args.text}, "level": args.level,
                    "zones": zones}
    from firmware_bridge.bridge import broker_errors
    from firmware_bridge.signing import read_key

    try:
        key = None if args.key_file is None else read_key(args.key_file)
    except ValueError as exc:
        print(f"communectl fleet announce: --key-file: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with broker_errors(args.broker):
        results = asyncio.run(fleet_announce(_fleet_connect(args), args.prefix, sites,
                                             announcement, timeout_s=args.timeout, key=key))
    if args.format == "json":
        print(json.dumps([r.as_json() for r in results], ensure_ascii=False, indent=2))
    else:
        for r in results:
            detail = f"{r.ack_ms} ms" if r.outcome == "accepted" else (r.error or "no answer")
            print(f"{r.site:<24} {r.outcome:<9} {detail}")
    return EXIT_OK if all(r.outcome == "accepted" for r in results) else EXIT_FAILURE


def _cmd_fleet_report(args: argparse.Namespace) -> int:
    """No controller needed: the table is what the broker holds."""
    from pathlib import Path
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from controller.platform.exports import to_csv, to_xlsx
    from controller.reports.monthly import Month
    from controller.reports.province import province_table
    from firmware_bridge.bridge import broker_errors
    from firmware_bridge.fleet import fleet_report

    month = str(Month.parse(args.month))
    try:
        tz = ZoneInfo(args.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        print(f"communectl: timezone: no zone {args.timezone!r}", file=sys.stderr)
        return EXIT_USAGE
    with broker_errors(args.broker):
        communes = asyncio.run(fleet_report(_fleet_connect(args), args.prefix, month,
                                            listen_s=args.listen))
    rows = [c.as_json() for c in communes]
    if args.format == "json":
        body = json.dumps(rows, ensure_ascii=False, indent=2).encode() + b"\n"
    elif args.format == "csv":
        body = to_csv(province_table(rows, month=month, tz=tz, lang="en"))
    elif args.format == "xlsx":
        body = to_xlsx(province_table(rows, month=month, tz=tz, lang="vi"))
    else:
        body = _province_text(rows, month, args).encode()
    output = args.output or (f"province-{month}.xlsx" if args.format == "xlsx" else None)
    if output is None or output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
        return EXIT_OK
    Path(output).write_bytes(body)
    print(f"wrote {output}", file=sys.stderr)
    return EXIT_OK


def _province_text(rows: list[dict], month: str, args: argparse.Namespace) -> str:
    if not rows:
        return f"no gateway has published under {args.prefix}/ on {args.broker}\n"

    def cell(value: object) -> str:
        return "-" if value is None else f"{value:g}" if isinstance(value, float) else \
            str(value)

    columns = (("site", "site"), ("commune", "commune"), ("clusters", "clusters"),
               ("bulletins_scheduled", "bulletins"), ("successful_plays", "played"),
               ("emergency_bulletins", "emerg"), ("minutes_aired", "minutes"),
               ("missed", "missed"), ("failed", "failed"), ("on_hours", "on_h"),
               ("energy_kwh", "kWh"), ("alarms", "alarms"), ("updated_at", "updated"),
               ("online", "online"))
    table = [[title for _, title in columns]]
    for row in rows:
        values = {**row, "online": "yes" if row["online"] else "no",
                  "updated_at": (row["updated_at"] or "")[:16].replace("T", " ") or None}
        table.append([cell(values.get(name)) for name, _ in columns])
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    lines = [f"{month}: {len(rows)} communes"]
    lines += ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True))
              .rstrip() for line in table]
    return "\n".join(lines) + "\n"


def _cmd_fleet_acl(args: argparse.Namespace) -> int:
    from pathlib import Path

    from firmware_bridge.acl import acl_file, check_sites

    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    problems = check_sites(sites)
    if problems:
        for problem in problems:
            print(f"communectl fleet acl: --sites: {problem}", file=sys.stderr)
        return EXIT_USAGE
    text = acl_file(args.prefix, sites)
    if args.output is None:
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        print(f"communectl fleet acl: {args.output}: {exc.strerror}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"{args.output}: {len(sites)} gateway(s) and the province")
    return EXIT_OK


def _cmd_speak(args: argparse.Namespace) -> int:
    """``--show`` needs neither a config nor espeak-ng; a WAV is written, never aired: airing
    is an announcement's job (POST /api/v1/announcements)."""
    import shutil
    import tempfile
    from pathlib import Path

    from drivers.tts import SpeechSynth
    from drivers.vi_text import normalise_vietnamese

    text = sys.stdin.read() if args.text == "-" else args.text
    spoken = normalise_vietnamese(text)
    if not spoken:
        print("communectl speak: nothing to say: the text is empty", file=sys.stderr)
        return EXIT_USAGE
    if args.show:
        print(spoken)
        if args.out is None:
            return EXIT_OK
    voice, words_per_minute = _speech_settings(args)
    out = Path(args.out or SPEECH_OUT)
    with tempfile.TemporaryDirectory(prefix="communectl-speak-") as cache:
        synth = SpeechSynth(Path(cache), voice=voice, words_per_minute=words_per_minute)
        wav = asyncio.run(synth.synthesise(text, voice=args.voice))
        try:
            shutil.copyfile(wav, out)
        except OSError as exc:
            print(f"communectl speak: cannot write {out}: {exc.strerror}", file=sys.stderr)
            return EXIT_FAILURE
    if not args.show:
        print(f"wrote {out}")
    return EXIT_OK


def _speech_settings(args: argparse.Namespace) -> tuple[str, int]:
    """The voice and speed the radio reads with: a named config's, else the defaults."""
    from controller.config import BroadcastConfig

    path = config_path(args.config)
    radio = load_config(path).broadcast if args.config or path.exists() else BroadcastConfig()
    return radio.tts_voice, radio.tts_words_per_minute


if __name__ == "__main__":
    sys.exit(main())
