#!/usr/bin/env bash
# Prints the README's opening commands, one a line: each indented code
# block before README.md's first "## " heading, in order (the main job,
# then the tests). .ci/run runs exactly these, so the README and CI cannot
# disagree; test/readme checks what they are.
# Usage: scripts/readme-commands.sh [README.md]
set -euo pipefail
readme=${1:-$(dirname "$0")/../README.md}
awk '
  /^## / { exit }
  /^    [^ ]/ { sub(/^    /, ""); print }
' "$readme"
