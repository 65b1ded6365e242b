#!/usr/bin/env bash
# Draws CloudSync's icons with ImageMagick: the app icon and one tray icon per state
# (idle, syncing, paused, error). The PNGs are committed; run this only to change them.
set -euo pipefail
cd "$(dirname "$0")"

# A cloud on a transparent 256x256 canvas, in colour $1, with an overlay drawn by $2.
cloud() {
  local fill=$1 out=$2; shift 2
  convert -size 256x256 xc:none -fill "$fill" \
    -draw "circle 92,150 92,100" -draw "circle 150,118 150,50" -draw "circle 196,162 196,122" \
    -draw "roundrectangle 40,140 236,212 36,36" \
    "$@" "$out"
}

# App icon: white cloud on a blue rounded square, with two sync arrows.
convert -size 256x256 xc:none -fill '#2f6fde' -draw "roundrectangle 8,8 248,248 52,52" app-bg.png
cloud white app-cloud.png
convert app-bg.png app-cloud.png -composite \
  -stroke '#2f6fde' -strokewidth 14 -fill none -draw "path 'M 112,176 A 34,34 0 1 1 172,168'" \
  -stroke none -fill '#2f6fde' -draw "polygon 154,162 190,150 184,188" \
  PNG32:icon.png
rm app-bg.png app-cloud.png
# Tauri embeds these and wants 8-bit RGBA (PNG32).
for s in 32 128; do convert icon.png -resize ${s}x${s} PNG32:${s}x${s}.png; done
convert icon.png -resize 256x256 PNG32:128x128@2x.png

# Tray: 64x64 glyphs that read on light and dark panels.
tray() {
  local name=$1 fill=$2; shift 2
  cloud "$fill" big.png "$@"
  convert big.png -resize 64x64 "PNG32:tray-$name.png"
  rm big.png
}
tray idle '#5f6b7a'
tray syncing '#2f6fde' -stroke white -strokewidth 16 -fill none \
  -draw "path 'M 112,180 A 34,34 0 1 1 172,172'" -stroke none -fill white \
  -draw "polygon 152,166 192,152 186,194"
tray paused '#8a94a3' -fill white -draw "rectangle 114,132 130,196" -draw "rectangle 146,132 162,196"
tray error '#d93a3a' -fill white -draw "rectangle 130,118 146,172" -draw "circle 138,190 138,180"
