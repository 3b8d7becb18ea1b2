// Splitting one framed CSV record into fields (RecordReader frames the records).
#pragma once

#include <string>
#include <vector>

namespace salvo {

// Splits one CSV record (RFC 4180: comma-separated, "..." quoting with "" for a quote). A quote
// opens a quoted field only at the start of a field; elsewhere it is data (as in Python's csv and
// DuckDB). Returns false, with the reason in *error, for a quote that is never closed or stray
// characters after a closing quote. With `quoted`, (*quoted)[i] says whether field i was quoted:
// an empty field is a null when it is not (as Spark, DuckDB and pandas read it), and an empty
// string when it is ("").
bool split_csv(const std::string& record, std::vector<std::string>* fields, std::string* error,
               std::vector<bool>* quoted = nullptr);

}  // namespace salvo
