// RunConfig: TOML (toml++) and --set overrides into the section structs, key by key, with located one-line errors,
// range and enumeration checks, checks against the model shape, and to_toml. One table of fields drives it all.
#include "config/run_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string_view>
#include <variant>

#include "core/check.h"
#include "core/edit_distance.h"
#include "core/byte_size.h"

namespace strata {
namespace {

// ---- The field table --------------------------------------------------------------------------------------

// An enumerated key: its names (from the enum's one table) and how to set and read the field through them.
struct EnumRef {
  std::vector<std::string> names;
  std::function<bool(std::string_view)> set;  // false for a name the enum does not have
  std::function<std::string()> get;
};

template <class E>
EnumRef enum_ref(E* p) {
  return {enum_name_list<E>(),
          [p](std::string_view s) {
            const auto v = enum_from_name<E>(s);
            if (v) *p = *v;
            return v.has_value();
          },
          [p] { return std::string(enum_name(*p)); }};
}

using FieldPtr = std::variant<std::string*, int*, uint64_t*, double*, bool*, EnumRef, std::vector<std::string>*>;

struct Field {
  std::string_view section;
  std::string_view key;
  FieldPtr ptr;
};

// Every key of every section, in the order to_toml prints them. Key names are the struct field names.
std::vector<Field> fields_of(RunConfig& c) {
  return {
      {"model", "preset", &c.model.preset},
      {"model", "path", &c.model.path},
      {"model", "init_seed", &c.model.init_seed},
      {"data", "train", &c.data.train},
      {"data", "format", enum_ref(&c.data.format)},
      {"data", "eval", &c.data.eval},
      {"data", "eval_fraction", &c.data.eval_fraction},
      {"data", "text_field", &c.data.text_field},
      {"data", "tokenizer", &c.data.tokenizer},
      {"data", "chat_template", enum_ref(&c.data.chat_template)},
      {"data", "skip_bad_records", &c.data.skip_bad_records},
      {"data", "seq_len", &c.data.seq_len},
      {"data", "pack", &c.data.pack},
      {"data", "shuffle_seed", &c.data.shuffle_seed},
      {"data", "synthetic_documents", &c.data.synthetic_documents},
      {"train", "mode", enum_ref(&c.train.mode)},
      {"train", "steps", &c.train.steps},
      {"train", "micro_batch", &c.train.micro_batch},
      {"train", "grad_accum", &c.train.grad_accum},
      {"train", "lr", &c.train.lr},
      {"train", "lr_schedule", enum_ref(&c.train.lr_schedule)},
      {"train", "precision", enum_ref(&c.train.precision)},
      {"train", "warmup_steps", &c.train.warmup_steps},
      {"train", "min_lr_ratio", &c.train.min_lr_ratio},
      {"train", "weight_decay", &c.train.weight_decay},
      {"train", "beta1", &c.train.beta1},
      {"train", "beta2", &c.train.beta2},
      {"train", "eps", &c.train.eps},
      {"train", "grad_clip", &c.train.grad_clip},
      {"train", "seed", &c.train.seed},
      {"train", "max_nonfinite_steps", &c.train.max_nonfinite_steps},
      {"train", "eval_every", &c.train.eval_every},
      {"train", "eval_batches", &c.train.eval_batches},
      {"train", "sample_every", &c.train.sample_every},
      {"train", "sample_prompts", &c.train.sample_prompts},
      {"train", "sample_tokens", &c.train.sample_tokens},
      {"lisa", "layers", &c.lisa.layers},
      {"lisa", "interval", &c.lisa.interval},
      {"lisa", "train_embedding", &c.lisa.train_embedding},
      {"lisa", "train_head", &c.lisa.train_head},
      {"lisa", "train_final_norm", &c.lisa.train_final_norm},
      {"lisa", "optimizer_state", enum_ref(&c.lisa.optimizer_state)},
      {"memory", "backend", &c.memory.backend},
      {"memory", "activation_checkpointing", &c.memory.activation_checkpointing},
      {"memory", "device_budget", &c.memory.device_budget},
      {"memory", "host_budget", &c.memory.host_budget},
      {"memory", "frozen_tier", enum_ref(&c.memory.frozen_tier)},
      {"memory", "disk_path", &c.memory.disk_path},
      {"memory", "prefetch", &c.memory.prefetch},
      {"memory", "verify", enum_ref(&c.memory.verify)},
      {"memory", "io", enum_ref(&c.memory.io)},
      {"memory", "optimizer", enum_ref(&c.memory.optimizer)},
      {"output", "dir", &c.output.dir},
      {"output", "log_every", &c.output.log_every},
      {"output", "checkpoint_every", &c.output.checkpoint_every},
      {"output", "keep_checkpoints", &c.output.keep_checkpoints},
      {"output", "save_batches", &c.output.save_batches},
      {"output", "profile", &c.output.profile},
      {"distributed", "timeout_s", &c.distributed.timeout_s},
      {"distributed", "bucket_mb", &c.distributed.bucket_mb},
      {"distributed", "shard_optimizer", &c.distributed.shard_optimizer},
  };
}

const std::vector<std::string> kSections = {"model", "data", "train", "lisa", "memory", "output", "distributed"};

std::vector<std::string> keys_of(std::string_view section) {
  RunConfig scratch;
  std::vector<std::string> out;
  for (const auto& f : fields_of(scratch))
    if (f.section == section) out.emplace_back(f.key);
  return out;
}

// The sections (other than `except`) that have a key named exactly `key`.
std::vector<std::string> sections_with_key(std::string_view key, std::string_view except) {
  RunConfig scratch;
  std::vector<std::string> out;
  for (const auto& f : fields_of(scratch))
    if (f.key == key && f.section != except) out.emplace_back(f.section);
  return out;
}

// ---- Formatting -------------------------------------------------------------------------------------------

std::string one_line(std::string s) {
  for (char& ch : s)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return s;
}

[[noreturn]] void fail_line(const std::string& message) { STRATA_USER_FAIL(one_line(message)); }

// A TOML basic string: quoted, with escapes, so it never spans lines and parses back to the same text.
std::string toml_quote(std::string_view s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto u = (unsigned char)ch;
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\t': out += "\\t"; break;
      case '\n': out += "\\n"; break;
      case '\f': out += "\\f"; break;
      case '\r': out += "\\r"; break;
      default:
        if (u < 0x20 || u == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", u);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// Shortest text that parses back to exactly `v` (std::to_chars), always a TOML float (has '.', 'e', inf or nan).
std::string format_double(double v) {
  char buf[64];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, res.ptr);
  const auto e = s.find('e');
  if (e != std::string::npos) {  // "3e-04" -> "3e-4", "1e+20" -> "1e20"
    std::string mantissa = s.substr(0, e), exponent = s.substr(e + 1);
    const bool negative = exponent[0] == '-';
    if (exponent[0] == '-' || exponent[0] == '+') exponent.erase(0, 1);
    exponent.erase(0, std::min(exponent.find_first_not_of('0'), exponent.size() - 1));
    return mantissa + "e" + (negative ? "-" : "") + exponent;
  }
  if (s.find_first_of(".na") == std::string::npos) s += ".0";
  return s;
}

std::string quote_all(const std::vector<std::string>& names) {
  std::vector<std::string> q;
  for (const auto& n : names) q.push_back(toml_quote(n));
  return join_alternatives(q);
}

std::string type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

// "an integer 5", "a string \"abc\"", "a table": what the user wrote, for type errors.
std::string describe(const toml::node& n) {
  std::string out = type_name(n);
  if (auto s = n.as_string()) return out + " " + toml_quote(s->get());
  if (auto i = n.as_integer()) return out + " " + std::to_string(i->get());
  if (auto d = n.as_floating_point()) return out + " " + format_double(d->get());
  if (auto b = n.as_boolean()) return out + (b->get() ? " true" : " false");
  return out;
}

// The value as the user wrote it, quoted (for "quote it" hints on string keys).
std::string literal_text(const toml::node& n) {
  if (auto i = n.as_integer()) return std::to_string(i->get());
  if (auto d = n.as_floating_point()) return format_double(d->get());
  if (auto b = n.as_boolean()) return b->get() ? "true" : "false";
  return "";
}

std::string position(const std::string& origin, const toml::source_region& src) {
  return origin + ":" + std::to_string(src.begin.line) + ":" + std::to_string(src.begin.column);
}

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

// ---- Parsing ----------------------------------------------------------------------------------------------

class Parser {
 public:
  explicit Parser(std::string origin) : origin_(std::move(origin)) {}

  void apply_file(const std::string& text) {
    toml::table root;
    try {
      root = toml::parse(text, origin_);
    } catch (const toml::parse_error& e) {
      fail_line(position(origin_, e.source()) + ": TOML syntax error: " + std::string(e.description()));
    }
    // Report the first problem in file order (toml::table iterates keys alphabetically).
    struct Entry { const toml::key* key; const toml::node* value; };
    auto by_position = [](const Entry& a, const Entry& b) {
      const auto &pa = a.key->source().begin, &pb = b.key->source().begin;
      return pa.line != pb.line ? pa.line < pb.line : pa.column < pb.column;
    };
    std::vector<Entry> sections;
    for (auto&& [k, v] : root) sections.push_back({&k, &v});
    std::sort(sections.begin(), sections.end(), by_position);
    for (const auto& s : sections) {
      const std::string name(s.key->str());
      const std::string where = position(origin_, s.key->source());
      const toml::table* table = s.value->as_table();
      if (!table) check_top_level_key(name, *s.value, where);
      check_section_name(name, where, false);
      std::vector<Entry> entries;
      for (auto&& [k, v] : *table) entries.push_back({&k, &v});
      std::sort(entries.begin(), entries.end(), by_position);
      for (const auto& e : entries) {
        const std::string key(e.key->str());
        const Field& f = find_field(name, key, position(origin_, e.key->source()), false);
        assign(f, *e.value, position(origin_, e.value->source()), nullptr);
      }
    }
  }

  void apply_override(const std::string& spec) {
    const std::string where = "--set " + trim(spec);
    const auto eq = spec.find('=');
    if (eq == std::string::npos) fail_line(where + ": expected section.key=value, e.g. --set train.lr=1e-4");
    const std::string lhs = trim(std::string_view(spec).substr(0, eq));
    const std::string raw = trim(std::string_view(spec).substr(eq + 1));
    const auto dot = lhs.find('.');
    if (dot == std::string::npos) {
      const auto owners = sections_with_key(lhs, "");
      fail_line(where + ": expected section.key=value" +
                (owners.empty() ? std::string(", e.g. --set train.lr=1e-4")
                                : "; did you mean " + owners.front() + "." + lhs + "?"));
    }
    const std::string section = lhs.substr(0, dot), key = lhs.substr(dot + 1);
    check_section_name(section, where, true);
    const Field& f = find_field(section, key, where, true);
    // The value is TOML when it parses as one value; otherwise it is the bare text (so model.preset=tiny works).
    toml::table parsed;
    const toml::node* value = nullptr;
    try {
      parsed = toml::parse("v = " + raw, std::string_view("--set"));
      if (parsed.size() == 1) value = parsed.get("v");
    } catch (const toml::parse_error&) {
    }
    toml::value<std::string> bare(raw);
    assign(f, value ? *value : bare, where, &raw);
  }

  RunConfig config() const { return cfg_; }
  const std::map<std::string, std::string>& locations() const { return where_; }

 private:
  void check_section_name(const std::string& name, const std::string& where, bool for_override) {
    if (std::find(kSections.begin(), kSections.end(), name) != kSections.end()) return;
    std::string msg = where + ": unknown section " + (for_override ? "'" + name + "'" : "[" + name + "]");
    const std::string close = closest_match(name, kSections);
    if (!close.empty())
      msg += for_override ? "; did you mean '" + close + "'?" : "; did you mean [" + close + "]?";
    else
      msg += "; sections are " + join_alternatives(kSections, " and ");
    fail_line(msg);
  }

  // A key written before any [section] header (a non-table at the top level): never valid.
  [[noreturn]] void check_top_level_key(const std::string& name, const toml::node& value, const std::string& where) {
    if (std::find(kSections.begin(), kSections.end(), name) != kSections.end())
      fail_line(where + ": " + name + " must be a section [" + name + "], got " + describe(value));
    std::string msg = where + ": '" + name + "' is outside any section";
    auto owners = sections_with_key(name, "");
    std::string key = name;
    if (owners.empty()) {
      std::vector<std::string> all;
      for (const auto& f : fields_) all.emplace_back(f.key);
      key = closest_match(name, all);
      if (!key.empty()) owners = sections_with_key(key, "");
    }
    if (!owners.empty()) msg += "; did you mean [" + owners.front() + "] " + key + "?";
    else msg += "; keys go inside one of the sections " + join_alternatives(kSections, " and ");
    fail_line(msg);
  }

  const Field& find_field(const std::string& section, const std::string& key, const std::string& where,
                          bool for_override) {
    for (const auto& f : fields_)
      if (f.section == section && f.key == key) return f;
    std::string msg = where + ": unknown key '" + key + "' in [" + section + "]";
    auto suggest = [&](const std::string& s, const std::string& k) {
      return for_override ? s + "." + k : (s == section ? "'" + k + "'" : "[" + s + "] " + k);
    };
    const auto own_keys = keys_of(section);
    const auto owners = sections_with_key(key, section);
    std::string close = closest_match(key, own_keys);
    if (!owners.empty()) {
      msg += "; did you mean " + suggest(owners.front(), key) + "?";
    } else if (!close.empty()) {
      msg += "; did you mean " + suggest(section, close) + "?";
    } else {
      // A close key in another section (e.g. [train] optimzer_state -> [lisa] optimizer_state).
      std::vector<std::string> all;
      for (const auto& f : fields_) all.emplace_back(f.key);
      close = closest_match(key, all);
      if (!close.empty())
        msg += "; did you mean " + suggest(sections_with_key(close, "").front(), close) + "?";
      else
        msg += "; keys of [" + section + "] are " + join_alternatives(own_keys, " and ");
    }
    fail_line(msg);
  }

  // Stores `n` into field `f`. `raw` is the override text (nullptr for file values): string keys given from the
  // command line take the text as written when it is not a TOML string (--set output.dir=2024 is "2024").
  void assign(const Field& f, const toml::node& n, const std::string& where, const std::string* raw) {
    const std::string name = std::string(f.section) + "." + std::string(f.key);
    const std::string at = where + ": " + name;
    std::visit([&](auto&& field) { store(field, n, at, raw); }, f.ptr);
    where_[name] = where;
  }

  static void store(std::string* p, const toml::node& n, const std::string& at, const std::string* raw) {
    if (auto s = n.as_string()) *p = s->get();
    else if (raw) *p = *raw;
    else
      fail_line(at + " expects a string, got " + describe(n) +
                (literal_text(n).empty() ? "" : "; quote it: " + toml_quote(literal_text(n))));
  }
  static void store(bool* p, const toml::node& n, const std::string& at, const std::string*) {
    if (auto b = n.as_boolean()) *p = b->get();
    else fail_line(at + " expects a boolean (true or false), got " + describe(n));
  }
  static void store(double* p, const toml::node& n, const std::string& at, const std::string*) {
    if (auto i = n.as_integer()) *p = (double)i->get();
    else if (auto d = n.as_floating_point()) *p = d->get();
    else fail_line(at + " expects a number, got " + describe(n));
  }
  static void store(int* p, const toml::node& n, const std::string& at, const std::string*) {
    auto i = n.as_integer();
    if (!i) fail_line(at + " expects an integer, got " + describe(n));
    const int64_t v = i->get();
    if (v < INT_MIN || v > INT_MAX)
      fail_line(at + " = " + std::to_string(v) + " is out of range for an integer (at most " +
                std::to_string(INT_MAX) + ")");
    *p = (int)v;
  }
  static void store(uint64_t* p, const toml::node& n, const std::string& at, const std::string*) {
    auto i = n.as_integer();
    if (!i || i->get() < 0) fail_line(at + " expects a non-negative integer, got " + describe(n));
    *p = (uint64_t)i->get();
  }
  // A list of strings: a TOML array of strings; after --set, a single string (or bare text) is a list of one.
  static void store(std::vector<std::string>* p, const toml::node& n, const std::string& at, const std::string* raw) {
    if (auto s = n.as_string()) {
      *p = {s->get()};
    } else if (auto a = n.as_array()) {
      std::vector<std::string> v;
      for (size_t i = 0; i < a->size(); ++i) {
        auto s = a->get(i)->as_string();
        if (!s) fail_line(at + "[" + std::to_string(i) + "] expects a string, got " + describe(*a->get(i)));
        v.push_back(s->get());
      }
      *p = std::move(v);
    } else if (raw) {
      *p = {*raw};
    } else {
      fail_line(at + " expects an array of strings, e.g. [\"Once upon a time\"], got " + describe(n));
    }
  }
  // An enumerated key takes one of its names, as a TOML string (or bare text after --set).
  static void store(const EnumRef& e, const toml::node& n, const std::string& at, const std::string* raw) {
    std::string v;
    if (auto s = n.as_string()) v = s->get();
    else if (raw) v = *raw;
    else fail_line(at + " expects a string, one of " + quote_all(e.names) + ", got " + describe(n));
    if (e.set(v)) return;
    const std::string close = closest_match(v, e.names);
    fail_line(at + " must be " + quote_all(e.names) + " (got " + toml_quote(v) + ")" +
              (close.empty() ? "" : "; did you mean " + toml_quote(close) + "?"));
  }

  std::string origin_;
  RunConfig cfg_;
  std::vector<Field> fields_ = fields_of(cfg_);
  std::map<std::string, std::string> where_;  // "train.lr" -> where it was last set
};

// ---- Validation -------------------------------------------------------------------------------------------

class Validator {
 public:
  Validator(const RunConfig& c, const std::string& origin, const std::map<std::string, std::string>& where)
      : c_(c), origin_(origin), where_(where) {}

  void run() {
    check_model();
    check_data();
    check_train();
    check_lisa();
    check_memory();
    check_output();
    check_distributed();
  }

 private:
  std::string at(const std::string& key) const {
    const auto it = where_.find(key);
    return (it != where_.end() ? it->second : origin_) + ": " + key;
  }
  void require(bool ok, const std::string& key, const std::string& what) const {
    if (!ok) fail_line(at(key) + " " + what);
  }
  void at_least(const std::string& key, int v, int lo) const {
    require(v >= lo, key, "must be >= " + std::to_string(lo) + " (got " + std::to_string(v) + ")");
  }
  // [lo, hi] for an integer key; `why` says what the upper bound protects.
  void int_range(const std::string& key, long long v, long long lo, long long hi, const std::string& why) const {
    require(v >= lo, key, "must be >= " + std::to_string(lo) + " (got " + std::to_string(v) + ")");
    require(v <= hi, key, "must be at most " + std::to_string(hi) + " (got " + std::to_string(v) + "): " + why);
  }
  void positive(const std::string& key, double v) const {
    require(v > 0 && std::isfinite(v), key, "must be > 0 and finite (got " + format_double(v) + ")");
  }
  void non_negative(const std::string& key, double v) const {
    require(v >= 0 && std::isfinite(v), key, "must be >= 0 and finite (got " + format_double(v) + ")");
  }
  // [lo, hi] or [lo, hi) when hi_open.
  void in_range(const std::string& key, double v, double lo, double hi, bool hi_open) const {
    const bool ok = v >= lo && (hi_open ? v < hi : v <= hi);
    require(ok, key, "must be in [" + format_double(lo) + ", " + format_double(hi) + (hi_open ? ")" : "]") +
                         " (got " + format_double(v) + ")");
  }
  void not_empty(const std::string& key, const std::string& v, const std::string& hint) const {
    require(!v.empty(), key, "must not be empty" + hint);
  }
  void byte_size(const std::string& key, const std::string& v) const {
    if (v.empty()) return;
    try {
      parse_byte_size(v, at(key));
    } catch (const StrataError& e) {
      throw UserError(one_line(e.what()));
    }
  }

  void check_model() const {
    const auto& m = c_.model;
    if (m.preset.empty() && m.path.empty())
      fail_line(origin_ + ": [model] needs exactly one of preset (a built-in shape, see `strata presets`) or "
                          "path (an HF model folder); neither is set");
    if (!m.preset.empty() && !m.path.empty())
      fail_line(at("model.path") + " and model.preset are both set (preset = " + toml_quote(m.preset) +
                ", path = " + toml_quote(m.path) + "); [model] takes exactly one of them (from the command line, "
                "clear the other with --set model.preset= or --set model.path=)");
  }

  void check_data() const {
    const auto& d = c_.data;
    not_empty("data.train", d.train, " (a file path, or \"synthetic\" for generated stories)");
    in_range("data.eval_fraction", d.eval_fraction, 0, 0.5, false);
    not_empty("data.text_field", d.text_field, " (the JSONL field holding the text)");
    not_empty("data.tokenizer", d.tokenizer, " (byte, a tokenizer file or folder, or \"model\")");
    int_range("data.seq_len", d.seq_len, 2, 1 << 20, "no model here has a context that long");
    at_least("data.synthetic_documents", d.synthetic_documents, 1);
  }

  void check_train() const {
    const auto& t = c_.train;
    int_range("train.steps", t.steps, 1, 1'000'000'000, "a billion optimizer steps is the limit");
    int_range("train.micro_batch", t.micro_batch, 1, 65536, "a larger micro-batch cannot fit any device");
    int_range("train.grad_accum", t.grad_accum, 1, 65536, "use fewer micro-batches per step");
    const long long step_tokens = (long long)t.micro_batch * t.grad_accum * c_.data.seq_len;
    require(step_tokens <= (1LL << 31), "train.grad_accum",
            "= " + std::to_string(t.grad_accum) + " makes one step " + std::to_string(step_tokens) +
                " tokens (micro_batch x grad_accum x data.seq_len), beyond 2^31: lower one of them");
    positive("train.lr", t.lr);
    require(t.warmup_steps >= 0 && t.warmup_steps <= t.steps, "train.warmup_steps",
            "must be in [0, train.steps = " + std::to_string(t.steps) + "] (got " + std::to_string(t.warmup_steps) +
                ")");
    in_range("train.min_lr_ratio", t.min_lr_ratio, 0, 1, false);
    non_negative("train.weight_decay", t.weight_decay);
    in_range("train.beta1", t.beta1, 0, 1, true);
    in_range("train.beta2", t.beta2, 0, 1, true);
    positive("train.eps", t.eps);
    non_negative("train.grad_clip", t.grad_clip);
    at_least("train.max_nonfinite_steps", t.max_nonfinite_steps, 1);
    at_least("train.eval_every", t.eval_every, 0);
    int_range("train.eval_batches", t.eval_batches, 1, 1'000'000, "evaluate on fewer batches");
    at_least("train.sample_every", t.sample_every, 0);
    int_range("train.sample_tokens", t.sample_tokens, 1, 4096, "sample fewer tokens");
    require(t.sample_every == 0 || !t.sample_prompts.empty(), "train.sample_prompts",
            "is empty but train.sample_every = " + std::to_string(t.sample_every) +
                " asks for samples; give prompts, e.g. sample_prompts = [\"Once upon a time\"]");
    require(t.sample_prompts.size() <= 64, "train.sample_prompts",
            "has " + std::to_string(t.sample_prompts.size()) + " prompts; give at most 64");
    for (size_t i = 0; i < t.sample_prompts.size(); ++i)
      require(!t.sample_prompts[i].empty(), "train.sample_prompts", "[" + std::to_string(i) + "] is empty");
  }

  void check_lisa() const {
    const auto& l = c_.lisa;
    at_least("lisa.layers", l.layers, 1);
    at_least("lisa.interval", l.interval, 1);
  }

  void check_memory() const {
    const auto& m = c_.memory;
    not_empty("memory.backend", m.backend, " (e.g. \"cpu\", \"ref\" or \"cuda:0\"; see `strata backends`)");
    byte_size("memory.device_budget", m.device_budget);
    byte_size("memory.host_budget", m.host_budget);
    int_range("memory.prefetch", m.prefetch, 1, 64, "each block read ahead takes a device slot of a whole block");
  }

  void check_output() const {
    const auto& o = c_.output;
    not_empty("output.dir", o.dir, " (the run folder)");
    at_least("output.log_every", o.log_every, 1);
    at_least("output.checkpoint_every", o.checkpoint_every, 0);
    at_least("output.keep_checkpoints", o.keep_checkpoints, 1);
  }

  void check_distributed() const {
    const auto& d = c_.distributed;
    positive("distributed.timeout_s", d.timeout_s);
    int_range("distributed.bucket_mb", d.bucket_mb, 1, 4096, "a bucket is one MPI call");
    require(!d.shard_optimizer || c_.train.mode == TrainMode::Full ||
                c_.lisa.optimizer_state == InactiveStatePolicy::Reset,
            "distributed.shard_optimizer", "needs lisa.optimizer_state = \"reset\": parked state would have to follow "
            "a block to whichever rank owns it when it comes back");
  }

  const RunConfig& c_;
  const std::string& origin_;
  const std::map<std::string, std::string>& where_;
};

}  // namespace

RunConfig RunConfig::parse(const std::string& toml_text, const std::string& origin,
                           const std::vector<std::string>& overrides) {
  Parser parser(origin);
  parser.apply_file(toml_text);
  for (const auto& o : overrides) parser.apply_override(o);
  RunConfig cfg = parser.config();
  Validator(cfg, origin, parser.locations()).run();
  return cfg;
}

RunConfig RunConfig::load(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_line("cannot read config file '" + path + "': " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) fail_line("cannot read config file '" + path + "': " + std::strerror(errno));
  return parse(text.str(), path, overrides);
}

std::string RunConfig::to_toml() const {
  RunConfig copy = *this;
  std::string out;
  std::string_view section;
  for (const auto& f : fields_of(copy)) {
    if (f.section != section) {
      if (!out.empty()) out += "\n";
      out += '[';  // appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "[" + std::string
      out += f.section;
      out += "]\n";
      section = f.section;
    }
    out += f.key;
    out += " = ";
    std::visit(
        [&](auto&& field) {
          using F = std::decay_t<decltype(field)>;
          if constexpr (std::is_same_v<F, EnumRef>) out += toml_quote(field.get());
          else if constexpr (std::is_same_v<F, std::string*>) out += toml_quote(*field);
          else if constexpr (std::is_same_v<F, std::vector<std::string>*>) {
            out += '[';
            for (size_t i = 0; i < field->size(); ++i) out += (i ? ", " : "") + toml_quote((*field)[i]);
            out += ']';
          }
          else if constexpr (std::is_same_v<F, bool*>) out += *field ? "true" : "false";
          else if constexpr (std::is_same_v<F, double*>) out += format_double(*field);
          else out += std::to_string(*field);
        },
        f.ptr);
    out += "\n";
  }
  return out;
}

std::vector<RunConfig::KeyInfo> RunConfig::keys() {
  RunConfig scratch;
  std::vector<KeyInfo> out;
  for (const auto& f : fields_of(scratch)) {
    KeyInfo k{std::string(f.section) + "." + std::string(f.key), {}};
    if (const auto* e = std::get_if<EnumRef>(&f.ptr)) k.allowed = e->names;
    out.push_back(std::move(k));
  }
  return out;
}

NonBlockTraining non_block_training(const RunConfig& cfg, bool tied) {
  const bool lisa = cfg.train.mode == TrainMode::Lisa;
  NonBlockTraining t;
  t.embedding = !lisa || cfg.lisa.train_embedding || (tied && cfg.lisa.train_head);
  t.head = !tied && (!lisa || cfg.lisa.train_head);
  t.final_norm = !lisa || cfg.lisa.train_final_norm;
  return t;
}

void RunConfig::validate_against_model(int n_layers, int max_seq_len) const {
  if (data.seq_len > max_seq_len)
    fail_line("data.seq_len = " + std::to_string(data.seq_len) + " exceeds the model's max_seq_len = " +
              std::to_string(max_seq_len) + " (max_position_embeddings); lower data.seq_len");
  if (train.mode == TrainMode::Lisa && lisa.layers > n_layers)
    fail_line("lisa.layers = " + std::to_string(lisa.layers) + " exceeds the model's n_layers = " +
              std::to_string(n_layers) + "; lower lisa.layers or use train.mode = \"full\"");
}

}  // namespace strata
