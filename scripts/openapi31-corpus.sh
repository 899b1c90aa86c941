#!/bin/sh
# Collects real OpenAPI 3.1 documents for `cargo xtask sweep`, into OUT_DIR
# (never into this repository: the documents are other parties' work, under
# their own licenses).
#
#   scripts/openapi31-corpus.sh SOURCES_DIR OUT_DIR
#   cargo xtask sweep OUT_DIR/adyen OUT_DIR/others
#
# SOURCES_DIR holds a git clone of each repository below, as
# SOURCES_DIR/OWNER+NAME (a bare clone, or a checkout with its .git). A
# missing one is cloned from GitHub when the network allows; where it does
# not (a sandbox that reaches only package registries), clone them elsewhere
# and copy them in. The commits the published sweep used are pinned below;
# `git -C DIR fetch` and pass `latest` as a third argument to use each
# repository's HEAD instead.
#
#   Adyen/adyen-openapi           aa014f0cbdb58ff5c44a2ff9d5fe734642210aff
#       json/*-vN.json: the highest version N of each API (47 documents)
#   mollie/mollie-api-golang      03a92ec1939c466109fc10615051755c69297ffa
#       .speakeasy/out.openapi.yaml: the Mollie API
#   OAI/learn.openapis.org        cff6533ce5444b144946ef6ae2722c34ef6769e0
#       examples/v3.1/{non-oauth-scopes,tictactoe,webhook-example}.yaml
set -eu

if [ $# -lt 2 ]; then
    sed -n '2,26p' "$0"
    exit 2
fi
sources=$1
out=$2
pin=${3:-pinned}
mkdir -p "$sources" "$out/adyen" "$out/others"

# repo DIR: the git directory of a clone of OWNER/NAME, cloning it if needed.
repo() {
    dir="$sources/$(echo "$1" | tr / +)"
    if [ ! -e "$dir" ]; then
        git clone --quiet --bare "https://github.com/$1.git" "$dir" >&2
    fi
    if [ -d "$dir/repo" ]; then dir="$dir/repo"; fi
    echo "$dir"
}

# show REPO COMMIT PATH: a file of a commit (HEAD with `latest`).
show() {
    commit=$2
    if [ "$pin" = latest ]; then commit=HEAD; fi
    git -C "$1" show "$commit:$3"
}

adyen=$(repo Adyen/adyen-openapi)
commit=aa014f0cbdb58ff5c44a2ff9d5fe734642210aff
[ "$pin" = latest ] && commit=HEAD
# The highest version of each API: NAME-vN.json, N numerically largest.
git -C "$adyen" ls-tree --name-only "$commit" json/ \
    | sed -n 's|^json/\(.*\)-v\([0-9]*\)\.json$|\1 \2|p' \
    | sort -k1,1 -k2,2nr | awk '!seen[$1]++ { print $1 "-v" $2 ".json" }' \
    | while read -r file; do
        show "$adyen" "$commit" "json/$file" > "$out/adyen/$file"
    done

mollie=$(repo mollie/mollie-api-golang)
show "$mollie" 03a92ec1939c466109fc10615051755c69297ffa .speakeasy/out.openapi.yaml > "$out/others/mollie.yaml"

oai=$(repo OAI/learn.openapis.org)
for name in non-oauth-scopes tictactoe webhook-example; do
    show "$oai" cff6533ce5444b144946ef6ae2722c34ef6769e0 "examples/v3.1/$name.yaml" > "$out/others/oai-$name.yaml"
done

echo "$(ls "$out/adyen" | wc -l) + $(ls "$out/others" | wc -l) documents in $out; now: cargo xtask sweep $out/adyen $out/others" >&2
