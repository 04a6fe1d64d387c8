//! Multi-row statements: one round trip for many rows.
//!
//! Each statement shape is prepared once and cached by the connection, keyed by its SQL
//! text. A group of arbitrary size split into fixed chunks of 100 would leave a remainder
//! of a new size almost every time, and preparing a statement with a thousand parameters
//! costs more than running it. So groups are split into chunks whose sizes are powers of
//! two (at most [`MAX_ROWS`]): a handful of shapes per statement, all prepared once.

/// The most rows one statement takes: well under both backends' limits on parameters
/// (SQLite 32,766, PostgreSQL 65,535) for the widest row we write.
pub(crate) const MAX_ROWS: usize = 128;

/// `items` in chunks of power-of-two sizes, largest first, none over [`MAX_ROWS`].
pub(crate) fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = MAX_ROWS.min(1 << rest.len().ilog2());
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

/// `$first, $first+1, …`: an `IN (…)` list of `n` parameters.
pub(crate) fn values_list(n: usize, first: usize) -> String {
    (first..first + n)
        .map(|p| format!("${p}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `VALUES` rows of a multi-row insert: `rows` tuples shaped by `columns`, where an
/// empty entry takes the next fresh parameter (numbered from `first`) and any other entry
/// is written as given (a parameter shared by every row, such as `$1` for the time).
pub(crate) fn values_rows(rows: usize, columns: &[&str], first: usize) -> String {
    let mut next = first;
    (0..rows)
        .map(|_| {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| {
                    if c.is_empty() {
                        next += 1;
                        format!("${}", next - 1)
                    } else {
                        (*c).to_string()
                    }
                })
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_rows_number_fresh_parameters_and_keep_shared_ones() {
        assert_eq!(
            values_rows(2, &["", "$1", ""], 2),
            "($2, $1, $3), ($4, $1, $5)"
        );
        assert_eq!(values_list(3, 4), "$4, $5, $6");
    }

    #[test]
    fn chunks_are_powers_of_two_covering_everything_in_order() {
        let sizes = |n: usize| {
            let items: Vec<usize> = (0..n).collect();
            let chunks: Vec<&[usize]> = chunks(&items).collect();
            assert_eq!(chunks.concat(), items);
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(300), [128, 128, 32, 8, 4]);
        assert_eq!(sizes(256), [128, 128]);
    }
}
