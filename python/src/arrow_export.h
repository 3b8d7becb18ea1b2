// Exports a salvo RecordBatch through the Arrow C data interface, as a struct array whose children
// are its columns: value, offset and string buffers are handed over as they are (no copy); only
// what Arrow lays out differently is converted (validity and booleans are bitmaps in Arrow, one
// byte per row in salvo; JSON columns become JSON text).
#pragma once

#include <memory>

#include "arrow_c.h"
#include "salvo/table.h"

namespace salvo::python {

// Fills `out` with the batch's schema. Types: int32 "i", int64 "l", float32 "f", float64 "g",
// bool "b", string "u", binary "z", timestamp "tsu:UTC", JSON "u", lists "+l" (child "element",
// as Spark names it; fixed-length lists too, since Spark has no fixed-size arrays). The schema's
// metadata travels as Arrow metadata.
void export_schema(const RecordBatch& batch, ArrowSchema* out);
// Fills `out` with the batch's columns. `owner` keeps `batch` alive until every exported array
// (the struct or any child moved out of it) is released.
void export_array(std::shared_ptr<const void> owner, const RecordBatch& batch, ArrowArray* out);

}  // namespace salvo::python
