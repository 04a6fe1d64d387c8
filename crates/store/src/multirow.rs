//! Multi-row statements: one round trip for many rows.
//!
//! Two costs shape the chunks a group is split into:
//! - Each statement shape is prepared once and cached by the connection, keyed by its SQL
//!   text. Chunks of a fixed size would leave a remainder of a new size almost every time,
//!   and a fresh prepare costs more than the run. So chunk sizes are powers of two: a few
//!   shapes per statement, all prepared once.
//! - Binding is quadratic in the number of parameters on SQLite: for each parameter sqlx
//!   asks SQLite its name, which SQLite finds by a linear scan (measured: a 14-column insert
//!   costs 24 µs a row in chunks of 8 rows and 111 µs a row in chunks of 128). So a
//!   statement takes at most [`MAX_PARAMS`] parameters.

/// The most parameters one statement takes (see the module doc).
pub(crate) const MAX_PARAMS: usize = 256;

/// `items` in chunks of power-of-two sizes, largest first, none with more than
/// [`MAX_PARAMS`] parameters at `params_per_row` each.
pub(crate) fn chunks<T>(items: &[T], params_per_row: usize) -> impl Iterator<Item = &[T]> {
    let max_rows = 1 << (MAX_PARAMS / params_per_row.max(1)).max(1).ilog2();
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = max_rows.min(1 << rest.len().ilog2());
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
            let chunks: Vec<&[usize]> = chunks(&items, 2).collect();
            assert_eq!(chunks.concat(), items);
            chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
        };
        // 2 parameters a row: at most 128 rows a statement.
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(100), [64, 32, 4]);
        assert_eq!(sizes(300), [128, 128, 32, 8, 4]);
        assert_eq!(sizes(256), [128, 128]);
        // 14 parameters a row: at most 16.
        let items: Vec<usize> = (0..40).collect();
        let wide: Vec<usize> = chunks(&items, 14).map(<[usize]>::len).collect();
        assert_eq!(wide, [16, 16, 8]);
    }
}
