#!/bin/sh
# Regenerates the speech clips used by tests/audio (needs RHVoice Leticia-F123 and sox).
# The tests only read the committed .slin files; they never run this script.
# Each clip: RHVoice speech, phone band (300-3400 Hz), 8 kHz s16le mono, silence trimmed.
set -eu
cd "$(dirname "$0")"
clip() {
  echo "$2" | RHVoice-test -p Leticia-F123 -o "$1.tmp.wav"
  sox "$1.tmp.wav" -t raw -r 8000 -c 1 -b 16 -e signed-integer -L "$1.slin" \
    sinc 300-3400 norm -6 silence 1 0.01 -45d reverse silence 1 0.01 -45d reverse
  rm "$1.tmp.wav"
}
clip bom_dia "Bom dia."
clip entrega "Vim entregar uma encomenda para o apartamento cento e um."
