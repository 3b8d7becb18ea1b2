#include "io/csv.h"

namespace salvo {

bool split_csv(const std::string& record, std::vector<std::string>* fields, std::string* error,
               std::vector<bool>* quoted) {
  fields->clear();
  if (quoted) quoted->clear();
  size_t i = 0;
  const size_t n = record.size();
  for (;;) {
    std::string field;
    const bool is_quoted = i < n && record[i] == '"';
    if (quoted) quoted->push_back(is_quoted);
    if (is_quoted) {
      ++i;
      // Copies the runs between quotes whole: a huge quoted field costs one copy, not a char loop.
      for (;;) {
        const size_t quote = record.find('"', i);
        if (quote == std::string::npos) {
          *error = "unterminated quoted field " + std::to_string(fields->size() + 1);
          return false;
        }
        field.append(record, i, quote - i);
        i = quote + 1;
        if (i < n && record[i] == '"') {  // "" is one quote
          field.push_back('"');
          ++i;
          continue;
        }
        break;
      }
      if (i < n && record[i] != ',') {
        *error = "unexpected character after closing quote in field " + std::to_string(fields->size() + 1);
        return false;
      }
    } else {
      size_t comma = record.find(',', i);
      if (comma == std::string::npos) comma = n;
      field.assign(record, i, comma - i);
      i = comma;
    }
    fields->push_back(std::move(field));
    if (i >= n) return true;
    ++i;  // the comma
  }
}

}  // namespace salvo
