#!/bin/bash
# SPDX-License-Identifier: MIT
# The daemon under valgrind: a session with good, broken and validated frames,
# subscribers that come and go, a counter dump, a producer cut mid-frame, and
# SIGHUP reloads (one applied, one refused) ends with SIGTERM, exit status 0, and
# no memory errors or leaks.
. "$(dirname "$0")/lib.sh"

need valgrind
# ASan and valgrind do not mix; the ASan build checks leaks itself at exit.
grep -q __asan_init "$FR_BIN" && skip "ASan build"

under_valgrind

src=$FR_FIXTURES_DIR/ffmpeg-320x240-10.mjpeg
printf 'max-frame-size 4M\nallow listen=127.0.0.0/8\n' >"$T/vg.conf"
fr_start_default vg --validate --client-timeout 1 --config "$T/vg.conf"

frames push "$INGEST" "$src" >/dev/null || fail "push $src"
wait_stat "$FR_WAIT" frames_in -eq 10
timeout "$FR_WAIT" "$FR_GRAB" "$LISTEN" -n 1 -o "$T/one.jpg" || fail "grab after push"
check_capture "$T/one.jpg" --source "$src" --expect 9

frames push "$INGEST" "$FR_FIXTURES_DIR/mixed.mjpeg" >/dev/null || fail "push mixed.mjpeg"
wait_stat "$FR_WAIT" frames_in -eq 15
head -c 3000 "$src" >"$T/half.bin"
frames push "$INGEST" "$T/half.bin" >/dev/null || fail "push a truncated frame"
wait_stat "$FR_WAIT" dropped_truncated -ge 1
fr_stats
note "counters: $STATS"

# Reloads: one that changes live settings, one that the file's error refuses.
printf 'max-frame-size 2M\nproducer-timeout 5\nallow listen=127.0.0.1\nallow http=::1\n' >"$T/vg.conf"
kill -HUP "$FR_PID"
wait_until "$FR_WAIT" "the reload" grep -q 'reload: done, 4 settings changed' "$FR_LOG"
echo 'max-clients many' >>"$T/vg.conf"
kill -HUP "$FR_PID"
wait_until "$FR_WAIT" "the refused reload" grep -q 'reload failed' "$FR_LOG"
frames push "$INGEST" "$src" >/dev/null || fail "push after the reloads"
wait_stat "$FR_WAIT" frames_in -eq 25
timeout "$FR_WAIT" "$FR_GRAB" "$LISTEN" -n 1 -o "$T/two.jpg" || fail "grab after the reloads"
note "reloaded twice (applied, refused) and still serving"

fr_stop "$FR_WAIT"
valgrind_clean
finish
