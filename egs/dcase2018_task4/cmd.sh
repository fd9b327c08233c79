# How parallel and heavy steps are run. Local by default (jobs capped by cores and memory).
# On a Slurm cluster use the second line (edit conf/slurm.conf for your partitions); on SGE the third.
export train_cmd="run.py"
# export train_cmd="slurm.py --config conf/slurm.conf"
# export train_cmd="queue.py --config conf/queue.conf"
