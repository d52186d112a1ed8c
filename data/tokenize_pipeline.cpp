// tokenize_to_token_file: the calling thread cuts records into batches and submits them to a WorkerPool, keeps at
// most two batches per thread in flight, and drains them in submission order into a TokenFileWriter, so the
// output does not depend on the number of threads and memory stays bounded.
#include "data/tokenize_pipeline.h"

#include <chrono>
#include <deque>
#include <future>
#include <memory>
#include <utility>

#include "core/check.h"
#include "data/record_encoder.h"
#include "data/record_source.h"
#include "data/token_file_writer.h"
#include "core/worker_pool.h"

namespace strata {
namespace {

// A job: records in, their documents in file form out (the writing thread only copies bytes).
struct Batch {
  std::vector<Record> records;
  uint64_t input_end = 0;  // input bytes consumed through the last record
  std::vector<TokenFileWriter::EncodedPiece> out;
  std::vector<uint8_t> ok;  // 0: a malformed record, skipped

  void encode(const RecordEncoder& enc, int bytes_per_id) {
    out.resize(records.size());
    ok.resize(records.size());
    Document doc;
    for (size_t i = 0; i < records.size(); ++i) {
      ok[i] = enc.encode(records[i], doc) ? 1 : 0;
      if (ok[i]) TokenFileWriter::encode(doc, bytes_per_id, out[i]);
    }
  }
};

}  // namespace

TokenizeStats tokenize_to_token_file(const TokenizeOptions& opts, const Tokenizer& tok,
                                     const std::function<void(const TokenizeStats&)>& progress,
                                     double progress_every_s) {
  STRATA_USER_CHECK(!opts.inputs.empty(), "tokenize: no input files; name at least one dataset file");
  STRATA_USER_CHECK(opts.threads >= 1, "tokenize: threads must be >= 1, got " + std::to_string(opts.threads));
  STRATA_USER_CHECK(!opts.out.empty(), "tokenize: no output file; set --out to the token file to write");
  std::vector<DataFormat> formats;
  for (const std::string& in : opts.inputs) {  // every input's format before any work
    formats.push_back(resolve_format(in, opts.read.format));
    STRATA_USER_CHECK(formats.back() != DataFormat::Tokens,
                      in + " is a token file already (data.format = \"tokens\" reads it); tokenize reads text, JSONL, "
                           "LMFlow and Alpaca files");
  }

  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  auto last_report = t0;
  TokenizeStats st;
  st.files = opts.inputs.size();
  st.bytes_per_id = tok.vocab_size() <= 65536 ? 2 : 4;
  TokenFileWriter writer(opts.out, st.bytes_per_id, true);
  WorkerPool pool(opts.threads);
  const size_t max_in_flight = 2 * static_cast<size_t>(opts.threads);
  uint64_t bytes_before = 0;  // input bytes of the files already done

  for (size_t fi = 0; fi < opts.inputs.size(); ++fi) {
    st.file = fi;
    const std::string& path = opts.inputs[fi];
    const auto src = open_record_source(path, formats[fi]);
    const RecordEncoder enc(src->kind(), path, opts.read, tok);
    std::deque<std::pair<std::future<void>, std::unique_ptr<Batch>>> in_flight;

    auto drain_front = [&] {
      auto [done, batch] = std::move(in_flight.front());
      in_flight.pop_front();
      done.get();  // rethrows the batch's first error, which is the earliest bad record still unwritten
      for (size_t i = 0; i < batch->records.size(); ++i) {
        ++st.records;
        if (!batch->ok[i]) {
          ++st.skipped;
          continue;
        }
        writer.append(batch->out[i]);  // a record is a whole document
        writer.end_document();
        st.tokens += batch->out[i].tokens;
        ++st.documents;
      }
      st.bytes = bytes_before + batch->input_end;
      const auto now = Clock::now();
      if (progress && std::chrono::duration<double>(now - last_report).count() >= progress_every_s) {
        last_report = now;
        st.seconds = std::chrono::duration<double>(now - t0).count();
        progress(st);
      }
    };

    try {
      for (bool more = true; more;) {
        auto batch = std::make_unique<Batch>();
        for (size_t bytes = 0; batch->records.size() < opts.batch_records && bytes < opts.batch_bytes;) {
          Record r;
          if (!src->next(r)) {
            more = false;
            break;
          }
          bytes += r.text.size();
          batch->records.push_back(std::move(r));
          batch->input_end = src->bytes_read();
        }
        if (!batch->records.empty()) {
          Batch* b = batch.get();
          const int bpi = st.bytes_per_id;
          in_flight.emplace_back(pool.submit([b, &enc, bpi] { b->encode(enc, bpi); }), std::move(batch));
        }
        while (in_flight.size() >= max_in_flight || (!more && !in_flight.empty())) drain_front();
      }
    } catch (...) {
      for (auto& job : in_flight) job.first.wait();  // the jobs use `enc` and their batch: let them finish first
      throw;
    }
    bytes_before += src->bytes_read();
  }

  writer.finish();
  st.bytes = bytes_before;
  st.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  return st;
}

}  // namespace strata
