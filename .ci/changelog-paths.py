#!/usr/bin/env python3
"""Checks that every Rust path CHANGELOG.md names exists in the docs.

Reads the HTML that `cargo doc` wrote (build it with every feature, so
that feature-gated items are there) and the changelog. A backticked token
is a path when it is made of identifiers joined by `::` and either has a
`::` or starts with a capital letter (`Sandbox`, `OrderId::new`); tokens
with anything else in them (`send_*`, `Option<T>`, `new(..)`) are code,
not names, and are skipped.

A path that starts with one of our crates (`klarna_models::...`) is read
from that crate's root. Any other path starts with an item named anywhere
in our crates (`WebhookEvent::verify`), or a module below a crate root
(`payment_api::webhooks`). After the first item, each segment is an item
inside a module, or a member of the item: a method, variant, field or
associated constant, as rustdoc anchors them.

A path struck through (~~`Old::name`~~) names what was removed: it must
NOT resolve. Prints each failure and exits 1 when there is any.

Usage: changelog-paths.py DOC_DIR CHANGELOG
"""
import re
import sys
from pathlib import Path

CRATES = [
    "klarna_models", "klarna_runtime", "klarna_ordermanagement",
    "klarna_payments", "klarna_settlements", "klarna_sandbox", "klarna_gateway",
    "klarna_checkout", "klarna_hpp", "klarna_merchantcard",
]
ITEM_KINDS = ["struct", "enum", "trait", "fn", "constant", "type", "macro",
              "static", "union", "derive", "attr", "traitalias", "primitive"]
MEMBER_ANCHORS = ["method", "tymethod", "variant", "structfield",
                  "associatedconstant", "associatedtype"]
# Names from std and other crates' docs, which this check does not read.
FOREIGN_CRATES = {"std", "core", "alloc", "bytes", "serde", "serde_json", "reqwest", "tokio", "http", "rustls"}
STD_NAMES = {"None", "Some", "Ok", "Err", "Option", "Result", "String", "Vec", "Box",
             "Debug", "Display", "FromStr", "Default", "Clone", "Send", "Sync", "Future",
             "IntoFuture", "Stream", "Serialize", "Deserialize"}
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(::[A-Za-z_][A-Za-z0-9_]*)*$")


def item_page(module_dir: Path, name: str):
    """The page of item `name` directly in the module at `module_dir`."""
    if (module_dir / name / "index.html").is_file():
        return module_dir / name / "index.html"
    for kind in ITEM_KINDS:
        page = module_dir / f"{kind}.{name}.html"
        if page.is_file():
            return page
    return None


def has_member(page: Path, name: str) -> bool:
    text = page.read_text(encoding="utf-8", errors="replace")
    return any(f'id="{anchor}.{name}"' in text for anchor in MEMBER_ANCHORS)


def walk(page: Path, rest: list) -> bool:
    """Follows `rest` from an item or module page."""
    for i, segment in enumerate(rest):
        if page.name == "index.html":
            inner = item_page(page.parent, segment)
            if inner is None:
                return False
            page = inner
        else:
            # A member ends the path: nothing is inside a method or variant.
            return i == len(rest) - 1 and has_member(page, segment)
    return True


def resolves(doc: Path, path: str, index: dict) -> bool:
    parts = path.split("::")
    if parts[0] in CRATES:
        return walk(doc / parts[0] / "index.html", parts[1:])
    starts = [doc / crate / "index.html" for crate in CRATES]
    starts += index.get(parts[0], [])
    for start in starts:
        rest = parts if start.name == "index.html" and start.parent.name in CRATES \
            and start.parent.parent == doc else parts[1:]
        if walk(start, rest):
            return True
    return False


def build_index(doc: Path) -> dict:
    """Item or module name -> its pages, across our crates."""
    index = {}
    for crate in CRATES:
        root = doc / crate
        if not root.is_dir():
            continue
        for page in root.rglob("*.html"):
            if page.name == "index.html":
                name = page.parent.name
            else:
                bits = page.name.split(".")
                if len(bits) != 3 or bits[0] not in ITEM_KINDS:
                    continue
                name = bits[1]
            index.setdefault(name, []).append(page)
    return index


def main() -> int:
    doc, changelog = Path(sys.argv[1]), Path(sys.argv[2])
    missing = [c for c in CRATES if not (doc / c / "index.html").is_file()]
    if missing:
        print(f"no docs for {', '.join(missing)} in {doc}: run cargo doc first")
        return 1
    index = build_index(doc)
    text = changelog.read_text(encoding="utf-8")
    # Fenced code blocks are examples, not names.
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    failures, checked = [], 0
    for match in re.finditer(r"(~~)?`([^`\n]+)`(~~)?", text):
        struck = bool(match.group(1) and match.group(3))
        token = match.group(2)
        if not PATH.match(token) or not ("::" in token or token[0].isupper()):
            continue
        if token.split("::")[0] in FOREIGN_CRATES | STD_NAMES:
            continue
        checked += 1
        line = text.count("\n", 0, match.start()) + 1
        found = resolves(doc, token, index)
        if struck and found:
            failures.append(f"CHANGELOG.md:{line}: `{token}` is struck through as removed, but exists")
        elif not struck and not found:
            failures.append(f"CHANGELOG.md:{line}: `{token}` names no public item of our crates")
    for failure in failures:
        print(failure)
    print(f"{checked} paths checked, {len(failures)} not as the changelog says")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
