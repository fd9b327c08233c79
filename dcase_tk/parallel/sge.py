"""The SGE / Grid Engine launcher (Kaldi's queue.pl): one ``qsub -t A:B`` per call; see grid.py.

Task outputs go to ``<logdir>/q/<name>.<index>.out``; --max-jobs-run K becomes ``-tc K``. SGE
arrays are ranges, so with --rerun-failed the array spans the first to the last job to re-run
and the script exits at once for the done jobs in between.
"""
import sys

from dcase_tk.parallel import cli, grid

# The same as egs/dcase2018_task1/conf/queue.conf, which explains it.
BUILTIN_CONFIG = """\
command qsub -V -cwd -S /bin/bash -j y
option time=* -l h_rt=$0
option mem=* -l mem_free=$0,ram_free=$0
option mem=0
option num_threads=* -pe smp $0
option num_threads=1
option gpu=* -l gpu=$0 -q g.q
option gpu=0
default gpu=0
"""


class Sge(grid.Scheduler):
    prog = "queue.py"
    task_var = "SGE_TASK_ID"
    builtin_config = BUILTIN_CONFIG
    builtin_config_source = "the built-in SGE config (dcase_tk/parallel/sge.py)"

    def array_flags(self, indices, max_jobs_run, name, qdir):
        throttle = ["-tc", str(max_jobs_run)] if max_jobs_run else []
        return (["-t", f"{min(indices)}:{max(indices)}"] + throttle
                + ["-o", f"{qdir}/{name}.$TASK_ID.out", "-terse"])

    def output_file(self, qdir, name, index):
        return f"{qdir}/{name}.{index}.out"

    def parse_job_id(self, submit_stdout):
        return submit_stdout.strip().split(".")[0]  # -terse: "123.1-4:1"

    def in_queue(self, job_id):
        result = grid.run_command(["qstat", "-j", job_id])
        if result.returncode == 0:
            return True
        if "do not exist" in result.stdout + result.stderr:
            return False
        raise cli.LaunchError(f"qstat -j {job_id} failed: {result.stderr.strip()}")

    def cancel(self, job_id):
        grid.run_command(["qdel", job_id])

    def task_states(self, job_id):
        """Nothing: SGE forgets finished tasks at once, and qacct is often not readable."""
        return {}


def main(argv=None):
    scheduler = Sge()
    sys.exit(cli.main(scheduler.prog, sys.argv[1:] if argv is None else argv,
                      lambda req: grid.prepare(req, scheduler)))
