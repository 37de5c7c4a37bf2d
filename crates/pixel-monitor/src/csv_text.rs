//! CSV text of the crate's small tables, written through the `csv` crate so that a field that
//! needs quoting (a comma, a quote, a line break) is quoted as RFC 4180 says; fields that do not
//! are written unchanged, so the text matches the original scripts' `print`-made files.

/// A CSV table being written into memory, one record per call.
pub(crate) struct CsvText {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvText {
    /// A table with this header line.
    pub(crate) fn new<S: AsRef<[u8]>>(header: impl IntoIterator<Item = S>) -> Self {
        let mut t = Self {
            writer: csv::WriterBuilder::new()
                .terminator(csv::Terminator::Any(b'\n'))
                .from_writer(Vec::new()),
        };
        t.row(header);
        t
    }

    /// Appends one record.
    pub(crate) fn row<S: AsRef<[u8]>>(&mut self, fields: impl IntoIterator<Item = S>) {
        // Writing into a Vec cannot fail, and every record of a table has the header's length.
        self.writer
            .write_record(fields)
            .expect("a CSV record written to memory");
    }

    /// The text of the table.
    pub(crate) fn finish(self) -> String {
        let bytes = self
            .writer
            .into_inner()
            .expect("a CSV table written to memory");
        String::from_utf8(bytes).expect("CSV of UTF-8 fields is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::CsvText;

    #[test]
    fn plain_fields_unchanged_and_special_ones_quoted() {
        let mut t = CsvText::new(["fill", "delivered (/fb)"]);
        t.row(["9800", "1.5"]);
        t.row(["a,b", "say \"x\""]);
        t.row(["", "2"]);
        assert_eq!(
            t.finish(),
            "fill,delivered (/fb)\n9800,1.5\n\"a,b\",\"say \"\"x\"\"\"\n,2\n"
        );
    }
}
