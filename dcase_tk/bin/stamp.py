"""Check or write a step's ``.done`` stamp (see dcase_tk.stamp).

  stamp.py check OUTDIR [--force true] [--name .done] -- INPUT ...   exit 0 (and say so) if up to date
  stamp.py done  OUTDIR [--name .done] -- INPUT ...                  record success
  stamp.py hash  OUTDIR -- INPUT ...                                  print the inputs' hash
  stamp.py start OUTDIR [--force true] -- INPUT ...                  ready OUTDIR for a resumable
      step: keep its files if it was started from the same inputs, else empty it
"""
import sys

from dcase_tk import cli, stamp


def main(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("action", choices=["check", "done", "hash", "start"])
    p.add_argument("outdir")
    p.add_argument("inputs", nargs="+", help="files and directories the step reads")
    p.add_argument("--force", default="false", choices=["true", "false"])
    p.add_argument("--name", default=stamp.DONE, help="stamp file name inside OUTDIR")
    p.add_argument("--extra", default="", help="a string that also defines the step "
                                               "(e.g. its options); hashed with the inputs")
    args = cli.parse(p, argv)
    digest = stamp.inputs_hash(args.inputs, args.extra)
    if args.action == "hash":
        print(digest)
        return 0
    if args.action == "start":
        stamp.start(args.outdir, digest, args.force == "true")
        return 0
    if args.action == "done":
        stamp.mark_done(args.outdir, digest, args.name)
        return 0
    if args.force == "false" and stamp.is_done(args.outdir, digest, args.name):
        print(f"{args.outdir}: up to date (inputs unchanged); skipping. Use --force true to redo.")
        return 0
    return 1


if __name__ == "__main__":
    cli.run(lambda: sys.exit(main()))
