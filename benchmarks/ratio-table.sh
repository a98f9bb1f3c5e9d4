# Sourced by the side-by-side benchmark scripts: rounds of two servers' requests per
# second collected in two associative arrays (test -> " rps rps ..."), printed as a
# Markdown table of medians with the ratio second / first, then the geometric mean.
# Usage: ratio_table FIRST_ARRAY SECOND_ARRAY "first title" "second title" "ratio title"

median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ratio_table() {
    local -n first=$1 second=$2
    local test a b
    printf "| test | %s | %s | %s |\n|---|---|---|---|\n" "$3" "$4" "$5"
    for test in "${!first[@]}"; do
        a=$(echo "${first[$test]}" | median); b=$(echo "${second[$test]}" | median)
        printf "| %s | %s | %s | %s |\n" "$test" "$a" "$b" "$(awk -v x="$b" -v y="$a" 'BEGIN {printf "%.2f", x / y}')"
    done | sort
    for test in "${!first[@]}"; do
        a=$(echo "${first[$test]}" | median); b=$(echo "${second[$test]}" | median)
        awk -v x="$b" -v y="$a" 'BEGIN {print log(x / y)}'
    done | awk -v t="$5" '{s += $1; n++} END {printf "geometric mean %s: %.2f\n", t, exp(s / n)}'
}
