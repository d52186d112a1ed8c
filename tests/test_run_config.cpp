// RunConfig: TOML parsing of every section and key, the error classes (did-you-mean, types, ranges, enums, syntax,
// model preset/path, budgets), --set overrides, checks against the model shape and the to_toml round trip.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/check.h"
#include "core/edit_distance.h"
#include "config/run_config.h"

namespace strata {

static const std::string kMinimal = "[model]\npreset = \"tiny\"\n[data]\ntrain = \"synthetic\"\n";

static RunConfig parse(const std::string& text, const std::vector<std::string>& overrides = {}) {
  return RunConfig::parse(text, "run.toml", overrides);
}

// The error message of parsing `text` (with `overrides`), or "" when it parses.
static std::string error_of(const std::string& text, const std::vector<std::string>& overrides = {}) {
  try {
    parse(text, overrides);
  } catch (const StrataError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << "not one line: " << msg;
    return msg;
  }
  return "";
}

#define EXPECT_HAS(haystack, needle)                                             \
  do {                                                                           \
    const std::string h_ = (haystack);                                           \
    EXPECT_NE(h_.find(needle), std::string::npos) << "'" << needle << "' not in: " << h_; \
  } while (0)

TEST(ConfigKeys, EditDistanceAndClosest) {
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("mdoe", "mode"), 1u);  // transposition
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(closest_match("lrr", {"lr", "mode", "steps"}), "lr");
  EXPECT_EQ(closest_match("Micro-Batch", {"micro_batch", "grad_accum"}), "micro_batch");
  EXPECT_EQ(closest_match("xyz", {"lr", "mode"}), "");
  EXPECT_EQ(join_alternatives({"a", "b", "c"}), "a, b or c");
}

TEST(RunConfig, DefaultsFromMinimalConfig) {
  const RunConfig c = parse(kMinimal);
  const RunConfig d;
  EXPECT_EQ(c.model.preset, "tiny");
  EXPECT_EQ(c.model.path, "");
  EXPECT_EQ(c.data.train, "synthetic");
  EXPECT_EQ(c.data.format, d.data.format);
  EXPECT_EQ(c.data.seq_len, d.data.seq_len);
  EXPECT_EQ(c.train.mode, TrainMode::Lisa);
  EXPECT_EQ(c.train.steps, d.train.steps);
  EXPECT_EQ(c.train.lr, d.train.lr);
  EXPECT_EQ(c.lisa.layers, d.lisa.layers);
  EXPECT_EQ(c.memory.backend, "cpu");
  EXPECT_EQ(c.output.dir, d.output.dir);
  RunConfig expected;
  expected.model.preset = "tiny";
  expected.data.train = "synthetic";
  EXPECT_EQ(c.to_toml(), expected.to_toml());
}

static const std::string kFull = R"(# every key
[model]
path = "models/llama"
init_seed = 11

[data]
train = "data/train.jsonl"
format = "jsonl"
eval = "data/eval.jsonl"
eval_fraction = 0.25
text_field = "content"
tokenizer = "byte"
seq_len = 128
shuffle_seed = 9
synthetic_documents = 17

[train]
mode = "full"
steps = 1000
micro_batch = 8
grad_accum = 2
lr = 1e-4
lr_schedule = "linear"
warmup_steps = 100
min_lr_ratio = 0
weight_decay = 0.01
beta1 = 0.8
beta2 = 0.95
eps = 1e-6
grad_clip = 0.5
seed = 12345678901
max_nonfinite_steps = 3
eval_every = 0
eval_batches = 4

[lisa]
layers = 3
interval = 7
train_embedding = false
train_head = false
train_final_norm = false
optimizer_state = "keep"

[memory]
backend = "cuda:0"
activation_checkpointing = true
device_budget = "48GiB"
host_budget = "200GB"

[output]
dir = "runs/full"
log_every = 10
checkpoint_every = 0
keep_checkpoints = 1
)";

TEST(RunConfig, EveryKeyParsed) {
  const RunConfig c = parse(kFull);
  EXPECT_EQ(c.model.preset, "");
  EXPECT_EQ(c.model.path, "models/llama");
  EXPECT_EQ(c.model.init_seed, 11u);
  EXPECT_EQ(c.data.train, "data/train.jsonl");
  EXPECT_EQ(c.data.format, DataFormat::Jsonl);
  EXPECT_EQ(c.data.eval, "data/eval.jsonl");
  EXPECT_EQ(c.data.eval_fraction, 0.25);
  EXPECT_EQ(c.data.text_field, "content");
  EXPECT_EQ(c.data.tokenizer, "byte");
  EXPECT_EQ(c.data.seq_len, 128);
  EXPECT_EQ(c.data.shuffle_seed, 9u);
  EXPECT_EQ(c.data.synthetic_documents, 17);
  EXPECT_EQ(c.train.mode, TrainMode::Full);
  EXPECT_EQ(c.train.steps, 1000);
  EXPECT_EQ(c.train.micro_batch, 8);
  EXPECT_EQ(c.train.grad_accum, 2);
  EXPECT_EQ(c.train.lr, 1e-4);
  EXPECT_EQ(c.train.lr_schedule, LrScheduleKind::Linear);
  EXPECT_EQ(c.train.warmup_steps, 100);
  EXPECT_EQ(c.train.min_lr_ratio, 0.0);  // an integer where a double is expected
  EXPECT_EQ(c.train.weight_decay, 0.01);
  EXPECT_EQ(c.train.beta1, 0.8);
  EXPECT_EQ(c.train.beta2, 0.95);
  EXPECT_EQ(c.train.eps, 1e-6);
  EXPECT_EQ(c.train.grad_clip, 0.5);
  EXPECT_EQ(c.train.seed, 12345678901ull);
  EXPECT_EQ(c.train.max_nonfinite_steps, 3);
  EXPECT_EQ(c.train.eval_every, 0);
  EXPECT_EQ(c.train.eval_batches, 4);
  EXPECT_EQ(c.lisa.layers, 3);
  EXPECT_EQ(c.lisa.interval, 7);
  EXPECT_FALSE(c.lisa.train_embedding);
  EXPECT_FALSE(c.lisa.train_head);
  EXPECT_FALSE(c.lisa.train_final_norm);
  EXPECT_EQ(c.lisa.optimizer_state, InactiveStatePolicy::Keep);
  EXPECT_EQ(c.memory.backend, "cuda:0");
  EXPECT_TRUE(c.memory.activation_checkpointing);
  EXPECT_EQ(c.memory.device_budget, "48GiB");
  EXPECT_EQ(c.memory.host_budget, "200GB");
  EXPECT_EQ(c.output.dir, "runs/full");
  EXPECT_EQ(c.output.log_every, 10);
  EXPECT_EQ(c.output.checkpoint_every, 0);
  EXPECT_EQ(c.output.keep_checkpoints, 1);
}

TEST(RunConfig, UnknownKeysSuggest) {
  std::string e = error_of(kMinimal + "[train]\nlrr = 1\n");
  EXPECT_HAS(e, "run.toml:6:1");
  EXPECT_HAS(e, "unknown key 'lrr' in [train]");
  EXPECT_HAS(e, "did you mean 'lr'?");
  e = error_of(kMinimal + "[lisa]\noptimzer_state = \"keep\"\n");
  EXPECT_HAS(e, "did you mean 'optimizer_state'?");
  // The key exists in another section.
  e = error_of(kMinimal + "[train]\nlayers = 2\n");
  EXPECT_HAS(e, "did you mean [lisa] layers?");
  // A close key in another section.
  e = error_of(kMinimal + "[train]\noptimzer_state = \"keep\"\n");
  EXPECT_HAS(e, "did you mean [lisa] optimizer_state?");
  // Nothing close: the section's keys are listed.
  e = error_of(kMinimal + "[output]\nzzzzzz = 1\n");
  EXPECT_HAS(e, "keys of [output] are dir, log_every");
}

TEST(RunConfig, UnknownSectionsSuggest) {
  std::string e = error_of(kMinimal + "[trian]\nlr = 1\n");
  EXPECT_HAS(e, "unknown section [trian]");
  EXPECT_HAS(e, "did you mean [train]?");
  e = error_of("lr = 1\n" + kMinimal);
  EXPECT_HAS(e, "run.toml:1:1");
  EXPECT_HAS(e, "'lr' is outside any section; did you mean [train] lr?");
  EXPECT_HAS(error_of("layres = 1\n" + kMinimal), "did you mean [lisa] layers?");
  EXPECT_HAS(error_of("qqqqqqqq = 1\n" + kMinimal), "keys go inside one of the sections model, data");
  e = error_of(kMinimal + "[qqqqqqqq]\n");
  EXPECT_HAS(e, "sections are model, data, train, lisa, memory, output and distributed");
}

TEST(RunConfig, FirstProblemInFileOrder) {
  // Both keys are unknown; the one written first is reported even though it sorts last.
  EXPECT_HAS(error_of(kMinimal + "[train]\nzzz = 1\naaa = 2\n"), "'zzz'");
}

TEST(RunConfig, WrongTypes) {
  std::string e = error_of(kMinimal + "[train]\nlr = \"fast\"\n");
  EXPECT_HAS(e, "run.toml:6:6: train.lr expects a number, got a string \"fast\"");
  e = error_of(kMinimal + "[train]\nsteps = 2.5\n");
  EXPECT_HAS(e, "train.steps expects an integer, got a float 2.5");
  e = error_of(kMinimal + "[lisa]\ntrain_head = 1\n");
  EXPECT_HAS(e, "lisa.train_head expects a boolean (true or false), got an integer 1");
  e = error_of(kMinimal + "[memory]\ndevice_budget = 4096\n");
  EXPECT_HAS(e, "memory.device_budget expects a string, got an integer 4096; quote it: \"4096\"");
  e = error_of(kMinimal + "[train]\nseed = -1\n");
  EXPECT_HAS(e, "train.seed expects a non-negative integer, got an integer -1");
  e = error_of(kMinimal + "[train]\nsteps = 10000000000\n");
  EXPECT_HAS(e, "train.steps = 10000000000 is out of range");
  e = error_of("[model]\npreset = \"tiny\"\n[data]\ntrain = 3\n");
  EXPECT_HAS(e, "data.train expects a string, got an integer 3; quote it: \"3\"");
  e = error_of("model = 3\n");
  EXPECT_HAS(e, "model must be a section [model]");
  // Integers are accepted where doubles are expected.
  EXPECT_EQ(parse(kMinimal + "[train]\nlr = 1\n").train.lr, 1.0);
}

TEST(RunConfig, RangesNameKeyAndRange) {
  auto with = [](const std::string& section, const std::string& kv) {
    if (section == "data") return error_of(kMinimal + kv + "\n");  // kMinimal ends inside [data]
    return error_of(kMinimal + "[" + section + "]\n" + kv + "\n");
  };
  EXPECT_HAS(with("train", "steps = 0"), "train.steps must be >= 1 (got 0)");
  EXPECT_HAS(with("train", "micro_batch = 0"), "train.micro_batch must be >= 1");
  EXPECT_HAS(with("train", "grad_accum = -2"), "train.grad_accum must be >= 1 (got -2)");
  EXPECT_HAS(with("train", "lr = 0"), "train.lr must be > 0 and finite (got 0.0)");
  EXPECT_HAS(with("train", "lr = inf"), "train.lr must be > 0 and finite (got inf)");
  EXPECT_HAS(with("train", "steps = 10\nwarmup_steps = 11"), "train.warmup_steps must be in [0, train.steps = 10]");
  EXPECT_HAS(with("train", "min_lr_ratio = 1.5"), "train.min_lr_ratio must be in [0.0, 1.0] (got 1.5)");
  EXPECT_HAS(with("train", "weight_decay = -0.1"), "train.weight_decay must be >= 0");
  EXPECT_HAS(with("train", "beta1 = 1"), "train.beta1 must be in [0.0, 1.0) (got 1.0)");
  EXPECT_HAS(with("train", "beta2 = nan"), "train.beta2 must be in [0.0, 1.0)");
  EXPECT_HAS(with("train", "eps = 0"), "train.eps must be > 0");
  EXPECT_HAS(with("train", "grad_clip = -1"), "train.grad_clip must be >= 0");
  EXPECT_HAS(with("train", "max_nonfinite_steps = 0"), "train.max_nonfinite_steps must be >= 1");
  EXPECT_HAS(with("train", "eval_every = -1"), "train.eval_every must be >= 0");
  EXPECT_HAS(with("train", "eval_batches = 0"), "train.eval_batches must be >= 1");
  EXPECT_HAS(with("data", "seq_len = 1"), "data.seq_len must be >= 2 (got 1)");
  EXPECT_HAS(with("data", "eval_fraction = 0.6"), "data.eval_fraction must be in [0.0, 0.5] (got 0.6)");
  EXPECT_HAS(with("data", "synthetic_documents = 0"), "data.synthetic_documents must be >= 1");
  EXPECT_HAS(with("lisa", "layers = 0"), "lisa.layers must be >= 1");
  EXPECT_HAS(with("lisa", "interval = 0"), "lisa.interval must be >= 1");
  EXPECT_HAS(with("output", "log_every = 0"), "output.log_every must be >= 1");
  EXPECT_HAS(with("output", "checkpoint_every = -1"), "output.checkpoint_every must be >= 0");
  EXPECT_HAS(with("output", "keep_checkpoints = 0"), "output.keep_checkpoints must be >= 1");
  EXPECT_HAS(with("memory", "backend = \"\""), "memory.backend must not be empty");
  // Range errors point at where the value was written.
  EXPECT_HAS(with("train", "steps = 0"), "run.toml:6:9: train.steps");
  EXPECT_EQ(with("train", "warmup_steps = 200"), "");  // == steps (default 200) is allowed
}

TEST(RunConfig, EnumsListAllowedAndSuggest) {
  std::string e = error_of(kMinimal + "[train]\nmode = \"lsia\"\n");
  EXPECT_HAS(e, "train.mode must be \"lisa\" or \"full\" (got \"lsia\"); did you mean \"lisa\"?");
  e = error_of(kMinimal + "[train]\nlr_schedule = \"cosin\"\n");
  EXPECT_HAS(e, "\"constant\", \"linear\" or \"cosine\"");
  EXPECT_HAS(e, "did you mean \"cosine\"?");
  EXPECT_HAS(error_of(kMinimal + "[lisa]\noptimizer_state = \"rest\"\n"), "did you mean \"reset\"?");
  EXPECT_HAS(error_of(kMinimal + "format = \"jsnol\"\n"), "did you mean \"jsonl\"?");
  EXPECT_HAS(error_of(kMinimal + "chat_template = \"chatlm\"\n"), "did you mean \"chatml\"?");
}

TEST(RunConfig, SyntaxErrorHasLineAndColumn) {
  const std::string e = error_of("[model]\npreset = \"tiny\"\n[data]\ntrain = = 3\n");
  EXPECT_HAS(e, "run.toml:4:");
  EXPECT_HAS(e, "TOML syntax error");
  EXPECT_HAS(error_of("[model]\npreset = \"tiny\n"), "run.toml:2:");  // unterminated string: still one line
}

TEST(RunConfig, ModelNeedsExactlyOneOfPresetAndPath) {
  std::string e = error_of("[data]\ntrain = \"synthetic\"\n");
  EXPECT_HAS(e, "exactly one of preset");
  EXPECT_HAS(e, "neither is set");
  e = error_of(kMinimal + "[model]\n");  // duplicate table: a syntax error
  EXPECT_HAS(e, "TOML syntax error");
  e = error_of("[model]\npreset = \"tiny\"\npath = \"m\"\n[data]\ntrain = \"synthetic\"\n");
  EXPECT_HAS(e, "both set");
  EXPECT_HAS(e, "exactly one");
}

TEST(RunConfig, DataTrainMustBeSet) {
  EXPECT_HAS(error_of("[model]\npreset = \"tiny\"\n"), "data.train must not be empty");
}

TEST(RunConfig, BadBudgetNamesKey) {
  std::string e = error_of(kMinimal + "[memory]\ndevice_budget = \"48 gigs\"\n");
  EXPECT_HAS(e, "memory.device_budget");
  EXPECT_HAS(e, "48 gigs");
  e = error_of(kMinimal + "[memory]\nhost_budget = \"lots\"\n");
  EXPECT_HAS(e, "memory.host_budget");
  EXPECT_EQ(error_of(kMinimal + "[memory]\nhost_budget = \"512MiB\"\n"), "");
}

TEST(RunConfig, Overrides) {
  const RunConfig c = parse(kMinimal, {"train.lr=1e-3", "lisa.layers=4", "model.preset=\"small\"",
                                       "memory.backend=cuda:0", "output.dir = runs/x y", "data.seq_len = 32",
                                       "memory.activation_checkpointing=true", "memory.host_budget=4096",
                                       "train.mode=full"});
  EXPECT_EQ(c.train.lr, 1e-3);
  EXPECT_EQ(c.lisa.layers, 4);
  EXPECT_EQ(c.model.preset, "small");
  EXPECT_EQ(c.memory.backend, "cuda:0");  // bare string
  EXPECT_EQ(c.output.dir, "runs/x y");
  EXPECT_EQ(c.data.seq_len, 32);
  EXPECT_TRUE(c.memory.activation_checkpointing);
  EXPECT_EQ(c.memory.host_budget, "4096");  // string keys take the text as written
  EXPECT_EQ(c.train.mode, TrainMode::Full);
  // Later overrides win; overrides apply after the file.
  EXPECT_EQ(parse(kMinimal + "[train]\nsteps = 5\n", {"train.steps=6", "train.steps=7"}).train.steps, 7);
  // Switching from preset to path: clear the preset with an empty value.
  const RunConfig p = parse(kMinimal, {"model.preset=", "model.path=models/x"});
  EXPECT_EQ(p.model.preset, "");
  EXPECT_EQ(p.model.path, "models/x");
  EXPECT_HAS(error_of(kMinimal, {"model.path=models/x"}), "both set");
}

TEST(RunConfig, OverrideErrors) {
  std::string e = error_of(kMinimal, {"train.lrr=1"});
  EXPECT_HAS(e, "--set train.lrr=1: unknown key 'lrr' in [train]; did you mean train.lr?");
  e = error_of(kMinimal, {"train.layers=1"});
  EXPECT_HAS(e, "did you mean lisa.layers?");
  e = error_of(kMinimal, {"trian.lr=1"});
  EXPECT_HAS(e, "--set trian.lr=1: unknown section 'trian'; did you mean 'train'?");
  e = error_of(kMinimal, {"lr=1"});
  EXPECT_HAS(e, "expected section.key=value; did you mean train.lr?");
  e = error_of(kMinimal, {"train.lr"});
  EXPECT_HAS(e, "expected section.key=value");
  e = error_of(kMinimal, {"train.lr=fast"});
  EXPECT_HAS(e, "--set train.lr=fast: train.lr expects a number, got a string \"fast\"");
  e = error_of(kMinimal, {"train.steps=0"});
  EXPECT_HAS(e, "--set train.steps=0: train.steps must be >= 1");
}

TEST(RunConfig, ValidateAgainstModel) {
  RunConfig c = parse(kMinimal);
  c.validate_against_model(4, 64);  // defaults: seq_len 64, lisa.layers 2
  c.data.seq_len = 128;
  try {
    c.validate_against_model(4, 64);
    FAIL() << "expected an error";
  } catch (const StrataError& e) {
    EXPECT_HAS(e.what(), "data.seq_len = 128 exceeds the model's max_seq_len = 64");
  }
  c.data.seq_len = 64;
  c.lisa.layers = 5;
  try {
    c.validate_against_model(4, 64);
    FAIL() << "expected an error";
  } catch (const StrataError& e) {
    EXPECT_HAS(e.what(), "lisa.layers = 5 exceeds the model's n_layers = 4");
  }
  c.train.mode = TrainMode::Full;
  c.validate_against_model(4, 64);  // lisa.layers does not matter when training every block
}

TEST(RunConfig, ToTomlRoundTrips) {
  const RunConfig c = parse(kFull);
  const std::string text = c.to_toml();
  EXPECT_HAS(text, "lr = 1e-4\n");
  EXPECT_HAS(text, "[lisa]\nlayers = 3\n");
  EXPECT_HAS(text, "seed = 12345678901\n");
  EXPECT_EQ(RunConfig::parse(text, "resolved.toml").to_toml(), text);

  // Defaults, awkward doubles and strings that need escaping.
  RunConfig d = parse(kMinimal);
  EXPECT_HAS(d.to_toml(), "lr = 3e-4\n");
  EXPECT_HAS(d.to_toml(), "eps = 1e-8\n");
  EXPECT_HAS(d.to_toml(), "min_lr_ratio = 0.1\n");
  EXPECT_HAS(d.to_toml(), "grad_clip = 1.0\n");
  d.train.lr = 0.1 + 0.2;
  d.train.weight_decay = 1.0 / 3.0;
  d.output.dir = "runs/\"quoted\"\\back\nslash\ttab\x01";
  d.data.text_field = "caf\xc3\xa9";
  const RunConfig back = RunConfig::parse(d.to_toml(), "resolved.toml");
  EXPECT_EQ(back.train.lr, d.train.lr);
  EXPECT_EQ(back.train.weight_decay, d.train.weight_decay);
  EXPECT_EQ(back.output.dir, d.output.dir);
  EXPECT_EQ(back.data.text_field, d.data.text_field);
  EXPECT_EQ(back.to_toml(), d.to_toml());
  for (double v : {1e20, 1e-300, 5e-324, 123456789.0, 1.7976931348623157e308, 0.1, 2.5e-5, 7.0}) {
    d.train.lr = v;
    EXPECT_EQ(RunConfig::parse(d.to_toml(), "resolved.toml").train.lr, v) << d.to_toml();
  }
}

TEST(RunConfig, LoadReadsFileAndNamesIt) {
  const auto path = std::filesystem::temp_directory_path() / ("strata_run_config_" + std::to_string(::getpid()) + ".toml");
  {
    std::ofstream out(path);
    out << kMinimal << "[train]\nsteps = 0\n";
  }
  try {
    RunConfig::load(path.string());
    FAIL() << "expected an error";
  } catch (const StrataError& e) {
    EXPECT_HAS(e.what(), path.string() + ":6:9: train.steps must be >= 1");
  }
  EXPECT_EQ(RunConfig::load(path.string(), {"train.steps=3"}).train.steps, 3);
  std::filesystem::remove(path);
  try {
    RunConfig::load(path.string());
    FAIL() << "expected an error";
  } catch (const StrataError& e) {
    EXPECT_HAS(e.what(), "cannot read config file");
  }
}

}  // namespace strata
