# Kaldi-style option parsing; source it after declaring every option with its default:
#
#   nj=4; subtask=a; force=false
#   . utils/parse_options.sh
#
# Accepts --name value and --name=value (dashes in names become underscores) for declared
# options only; an option whose default is true/false takes only true or false. --config FILE
# (a bash file of name=value lines, Kaldi style) is applied before every other option wherever it
# appears, so the command line wins. --help prints $help_message (if set) and the options with
# their defaults. The remaining positional arguments stay in "$@".

__po_script="${BASH_SOURCE[1]:-$0}"

# The declared options: names assigned at the top level of the calling script before it
# sources this file.
__po_declared() {
  awk '/parse_options\.sh/ {exit} match($0, /^[a-z_][a-z0-9_]*=/) {print substr($0, 1, RLENGTH - 1)}' \
    "$__po_script" 2>/dev/null | awk '$0 != "help_message" && !seen[$0]++'
}

__po_help() {
  [ -n "${help_message:-}" ] && printf '%s\n\n' "$help_message"
  echo "Options (current value; --config FILE applies a file of name=value lines first):"
  local name
  for name in $(__po_declared); do
    printf '  --%-24s %s\n' "$name" "${!name}"
  done
}

__po_fail() {
  echo "$(basename "$__po_script"): $*" >&2
  echo "Run '$(basename "$__po_script") --help' for the options." >&2
  exit 1
}

__po_set() {
  local var="${1#--}" value="$2" declared
  var="${var//-/_}"
  declared=" $(__po_declared | tr '\n' ' ') "
  if [[ "$declared" != *" $var "* ]]; then
    __po_fail "unknown option '$1'"
  fi
  if [[ "${!var}" == true || "${!var}" == false ]] && [[ "$value" != true && "$value" != false ]]; then
    __po_fail "option '$1' takes true or false, got '$value'"
  fi
  printf -v "$var" '%s' "$value"
}

# Pass 1: every --config file, in order.
__po_prev=""
for __po_arg in "$@"; do
  if [ "$__po_prev" = "--config" ]; then
    [ -f "$__po_arg" ] || __po_fail "--config: no such file '$__po_arg'"
    # shellcheck disable=SC1090
    . "$__po_arg"
  elif [[ "$__po_arg" == --config=* ]]; then
    [ -f "${__po_arg#--config=}" ] || __po_fail "--config: no such file '${__po_arg#--config=}'"
    # shellcheck disable=SC1090
    . "${__po_arg#--config=}"
  fi
  __po_prev="$__po_arg"
done

# Pass 2: the other options, in order; stop at the first positional argument.
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h) __po_help; exit 0 ;;
    --config) shift 2 ;;
    --config=*) shift ;;
    --) shift; break ;;
    --*=*) __po_set "${1%%=*}" "${1#*=}"; shift ;;
    --*)
      [ $# -ge 2 ] || __po_fail "option '$1' needs a value"
      __po_set "$1" "$2"; shift 2 ;;
    *) break ;;
  esac
done
unset __po_prev __po_arg
true
