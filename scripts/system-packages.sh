#!/usr/bin/env bash
# Installs the Debian packages the built-in data sets come from, when they are missing.
# Runs apt-get as root, through sudo otherwise; without either it says what to run and goes on.
set -euo pipefail
packages=(dict-freedict-deu-eng dataset-fashion-mnist espeak-ng libsndfile1 fortunes
          flite festival festvox-kallpc16k festvox-us-slt-hts fillets-ng-data fillets-ng-data-cs fillets-ng-data-nl
          asterisk-core-sounds-en-wav   # recorded_digits: a person reading the digits (tformer/data/recorded_digits.py)
          # text_lines' fonts (tformer/data/fonts.py), and Tesseract, the peer of benchmarks/ocr_peer.py
          fonts-dejavu-core fonts-dejavu-extra fonts-liberation2 fonts-freefont-ttf fonts-urw-base35
          fonts-crosextra-carlito fonts-crosextra-caladea fonts-linuxlibertine fonts-ebgaramond fonts-open-sans
          fonts-roboto-unhinted fonts-lato fonts-inconsolata fonts-hack fonts-sil-gentium fonts-sil-charis
          fonts-sil-andika fonts-cantarell fonts-comic-neue
          tesseract-ocr tesseract-ocr-eng tesseract-ocr-deu)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo="sudo"; else
    echo "tformer: the built-in data sets need: apt-get install -y ${missing[*]} (run it as root); going on without them" >&2
    exit 0
fi
echo "tformer: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
