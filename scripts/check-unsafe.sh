#!/usr/bin/env bash
# The unsafe-code fence (docs/SAFETY.md): Swift code may do unchecked pointer work —
# pointer arithmetic, raw loads through pointers, memcpy and friends, Unmanaged references,
# rebinding memory — only in the files that scripts/unsafe-fence.tsv lists, each with its
# reason. Everything else goes through their checked helpers (ByteStorage/RawMemory.swift).
# Fails, naming the lines, when such code appears anywhere else; `make lint` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
fence=scripts/unsafe-fence.tsv
pattern='baseAddress!? *[-+]|baseAddress \?\?|(^|[^A-Za-z_])Unsafe(Mutable)?(Raw)?Pointer\(|Unsafe(Mutable)?(Raw)?BufferPointer\(start:|\bmem(cpy|move|cmp|chr|set)\(|copyMemory|unsafeBitCast|unsafeDowncast|Unmanaged|assumingMemoryBound|bindMemory|withMemoryRebound|unsafeAddress|\.allocate\(|\.deallocate\(|\.pointee'
allowed=$(grep -v '^#' "$fence" | cut -f1 | sed '/^$/d' || true)
status=0
while IFS= read -r file; do
    if grep -qxF "$file" <<<"$allowed"; then continue; fi
    # Comment lines do not count.
    hits=$(grep -nE "$pattern" "$file" | grep -vE '^[0-9]+:\s*//' || true)
    if [ -n "$hits" ]; then
        echo "$file: unchecked pointer code outside the fence (use ByteStorage's checked helpers, or add the file to $fence with its reason):"
        echo "$hits" | sed 's/^/    /'
        status=1
    fi
done < <(find Sources -name '*.swift' | sort)
for file in $allowed; do
    [ -f "$file" ] || { echo "$fence lists $file, which does not exist"; status=1; }
done
exit $status
