"""hspace: not implemented yet in corral's htools; fails with a clear message."""

from __future__ import annotations

from corral_htools import cli_common as cc

PROG = "hspace"


def main(argv: list[str] | None = None) -> int:
    ap = cc.parser(PROG, "hspace (corral-htools): not available yet.")
    cc.add_backend(ap)
    args = ap.parse_args(cc.normalize_argv(argv))
    if args.help_completion:
        cc.completion(ap)
        return 0
    cc.load_cluster(PROG, args)
    cc.fail(PROG, "not available yet in corral-htools; use Ganeti's hspace for now")


if __name__ == "__main__":
    raise SystemExit(main())
