# Sourced by every recipe (egs/*/path.sh is a link to this file): activates the toolkit's venv,
# puts utils/ and steps/ on PATH, and fixes the locale so sorting is byte order.
DCASE_TK_ROOT="$(cd "$(dirname "$(readlink -f "${BASH_SOURCE[0]}")")" && pwd -P)"
export DCASE_TK_ROOT
if [ -f "$DCASE_TK_ROOT/.venv/bin/activate" ]; then
  # shellcheck disable=SC1091
  . "$DCASE_TK_ROOT/.venv/bin/activate"
elif ! python3 -c 'import dcase_tk' 2>/dev/null; then
  echo "path.sh: no venv at $DCASE_TK_ROOT/.venv and dcase_tk is not importable; run 'make install' in $DCASE_TK_ROOT" >&2
  return 1 2>/dev/null || exit 1
fi
export PATH="$DCASE_TK_ROOT/utils:$DCASE_TK_ROOT/steps:$PATH"
export LC_ALL=C
export PYTHONUNBUFFERED=1
