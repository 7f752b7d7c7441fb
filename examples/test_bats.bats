#!/usr/bin/bats --tap
# test-agent-style shell checks: bats writing TAP.
# MOZPARALLEL_EXAMPLE_FAIL=1 makes one test fail.

@test "the shell has arithmetic" {
  [ $((2 + 2)) -eq 4 ]
}

@test "a temporary file can be written" {
  tmp=$(mktemp)
  echo hello > "$tmp"
  run cat "$tmp"
  rm -f "$tmp"
  [ "$output" = "hello" ]
}

@test "the example failure switch" {
  [ "${MOZPARALLEL_EXAMPLE_FAIL:-0}" != "1" ]
}

@test "needs a network" {
  skip "no network in CI"
}
