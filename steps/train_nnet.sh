#!/usr/bin/env bash
# Train a neural network system (conf/systems/<name>.yaml) on a training and a validation dump
# dir, through $cmd (so it can run on a cluster node). A killed run resumes from its last
# checkpoint; --force true starts over. Data-parallel training (torchrun, via
# dcase_tk.bin.launch_ddp): --ngpu N (ESPnet's name; --gpu N, the name every step takes, is the
# same) trains on N GPUs of a node, one process per GPU (nccl); --nproc N on N CPU processes
# (gloo); --nnodes M on M nodes, which needs Slurm: the job asks for M nodes (the launcher's
# --num-nodes), srun starts one torchrun per node, and the rendezvous (node rank, master node,
# port) comes from the job's environment.
# --init <final.pt> starts from those weights (fine-tuning) instead of a random initialisation.
# --unlabelled <dump-dir> gives unlabelled clips to virtual adversarial training (the system's
# training.vat; refused when it is off); like --init, it is part of the step's stamp.
set -euo pipefail
cmd=run.py
system_config=
cmvn=            # default: <train-dir>/cmvn.ark (stage 3)
num_threads=1
gpu=0            # GPUs per node (passed to the launcher); one training process per GPU
ngpu=            # the same as --gpu (ESPnet's name); wins when both are given
nnodes=1         # nodes of a multi-node run (Slurm only)
nproc=           # data-parallel processes per node; default: the number of GPUs, or 1
init=            # weights to start from (a final.pt of the same model)
unlabelled=      # dump dir of unlabelled clips for VAT (passed as --unlabelled_dir)
train_opts=      # extra --key value overrides of the system config, e.g. "--training.epochs 30"
force=false
help_message="Usage: $0 [options] --system_config <system.yaml> <train-dir> <valid-dir> <exp-dir>
  e.g. $0 --system_config conf/systems/baseline.yaml dump/1a/logmel40_48k/train_tr dump/1a/logmel40_48k/train_cv exp/1a/baseline"
. parse_options.sh
if [ $# -ne 3 ] || [ -z "$system_config" ]; then echo "$help_message" >&2; exit 1; fi
train=$1
valid=$2
dir=$3
cmvn=${cmvn:-$train/cmvn.ark}
gpu=${ngpu:-$gpu}

inputs=("$train" "$valid" "$cmvn" "$system_config")
input_opts=()
if [ -n "$init" ]; then inputs+=("$init"); input_opts=(--init "$init"); fi
if [ -n "$unlabelled" ]; then inputs+=("$unlabelled"); input_opts+=(--unlabelled_dir "$unlabelled"); fi
if python -m dcase_tk.bin.stamp check "$dir" --force "$force" --extra "$train_opts" "${inputs[@]}"; then
  exit 0
fi
[ "$force" = true ] && rm -rf "$dir/checkpoints"
mkdir -p "$dir"
device=auto
[ "$gpu" -gt 0 ] && device=cuda
nproc=${nproc:-$(( gpu > 1 ? gpu : 1 ))}
launch=(python -m dcase_tk.bin.launch_ddp --nnodes "$nnodes" --nproc_per_node "$nproc" --)
node_opts=()
if [ "$nnodes" -gt 1 ]; then
  node_opts=(--num-nodes "$nnodes")
  launch=(srun --ntasks-per-node 1 --kill-on-bad-exit 1 "${launch[@]}")
fi
echo "$0: training $dir on $(( nnodes * nproc )) process(es), $nnodes node(s) (log: $dir/train.log)"
# shellcheck disable=SC2086  # train_opts is a list of options
$cmd --num-threads "$num_threads" --gpu "$gpu" "${node_opts[@]}" "$dir/train.log" \
  "${launch[@]}" -m dcase_tk.bin.train_nnet --config "$system_config" --cmvn "$cmvn" --device "$device" "${input_opts[@]}" \
    $train_opts "$train" "$valid" "$dir"
python -m dcase_tk.bin.stamp done "$dir" --extra "$train_opts" "${inputs[@]}"
