"""The Slurm launcher (Kaldi's slurm.pl): one ``sbatch --array`` per call; see grid.py.

Task outputs go to ``<logdir>/q/<name>.<index>.out``; --max-jobs-run K becomes ``%K``, and with
--rerun-failed the array lists only the jobs to re-run (``--array=2,5,7``).
"""
import sys

from dcase_tk.parallel import cli, grid

# The same as egs/dcase2018_task1/conf/slurm.conf, which explains it.
BUILTIN_CONFIG = """\
command sbatch --export=ALL --ntasks-per-node=1
option time=* --time $0
option mem=* --mem-per-cpu $0
option mem=0
option num_threads=* --cpus-per-task $0
option num_threads=1 --cpus-per-task 1
option gpu=* -p gpu --gres=gpu:$0
option gpu=0
option num_nodes=* --nodes $0
default gpu=0
"""


def array_spec(indices):
    """[1, 2, 3, 5, 7, 8] -> '1-3,5,7-8'."""
    runs = []
    for i in sorted(indices):
        if runs and runs[-1][1] == i - 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def _states_by_task(lines, job_id, label, detail):
    """Lines 'JOBID_TASK|STATE|X' -> {TASK: '<label>: State=STATE <detail>=X'}."""
    states = {}
    for line in lines:
        parts = line.split("|")
        array_id, _, task = parts[0].partition("_")
        if len(parts) == 3 and array_id == job_id and task.isdigit():
            states[int(task)] = f"{label}: State={parts[1]} {detail}={parts[2]}"
    return states


class Slurm(grid.Scheduler):
    prog = "slurm.py"
    task_var = "SLURM_ARRAY_TASK_ID"
    builtin_config = BUILTIN_CONFIG
    builtin_config_source = "the built-in Slurm config (dcase_tk/parallel/slurm.py)"

    def array_flags(self, indices, max_jobs_run, name, qdir):
        throttle = f"%{max_jobs_run}" if max_jobs_run else ""
        return [f"--array={array_spec(indices)}{throttle}", f"--output={qdir}/{name}.%a.out",
                "--parsable"]

    def output_file(self, qdir, name, index):
        return f"{qdir}/{name}.{index}.out"

    def parse_job_id(self, submit_stdout):
        return submit_stdout.strip().split(";")[0]  # --parsable: "id" or "id;cluster"

    def in_queue(self, job_id):
        result = grid.run_command(["squeue", "-h", "-j", job_id, "-o", "%T"])
        if result.returncode == 0:
            return bool(result.stdout.strip())  # squeue lists only pending/running tasks
        if "Invalid job id" in result.stderr:  # purged after MinJobAge: long gone
            return False
        raise cli.LaunchError(f"squeue -j {job_id} failed: {result.stderr.strip()}")

    def cancel(self, job_id):
        grid.run_command(["scancel", job_id])

    def task_states(self, job_id):
        """From accounting (sacct) where the site has it, else from the controller's memory of
        finished jobs (squeue -t all, kept for MinJobAge seconds)."""
        sacct = grid.run_command(["sacct", "-n", "-P", "-X", "-j", job_id,
                                  "-o", "JobID,State,ExitCode"])
        if sacct.returncode == 0:
            return _states_by_task(sacct.stdout.splitlines(), job_id, "sacct", "ExitCode")
        squeue = grid.run_command(["squeue", "-h", "-t", "all", "-j", job_id, "-o", "%i|%T|%r"])
        return _states_by_task(squeue.stdout.splitlines(), job_id, "squeue", "Reason")


def main(argv=None):
    scheduler = Slurm()
    sys.exit(cli.main(scheduler.prog, sys.argv[1:] if argv is None else argv,
                      lambda req: grid.prepare(req, scheduler)))
