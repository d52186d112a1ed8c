// synthetic_documents: short English stories from a seeded template grammar over small word lists. Names repeat
// within a story and the phrases are fixed, so a tiny model learns the structure and its loss falls visibly.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/check.h"
#include "data/dataset_readers.h"
#include "data/document_builder.h"
#include "core/rng.h"

namespace strata {
namespace {

template <size_t N>
using Words = std::array<std::string_view, N>;

constexpr Words<12> kNames = {"Lily", "Tom", "Mia", "Ben", "Sam", "Anna", "Max", "Lucy", "Tim", "Sue", "Jack", "Emma"};
constexpr Words<10> kAnimals = {"cat", "dog", "bird", "rabbit", "fox", "bear", "duck", "frog", "mouse", "lion"};
constexpr Words<8> kPlaces = {"park", "garden", "forest", "house", "river", "field", "yard", "town"};
constexpr Words<8> kVerbs = {"play", "run", "sing", "jump", "read", "swim", "dance", "draw"};
constexpr Words<8> kObjects = {"ball", "kite", "box", "hat", "cake", "book", "flower", "toy"};
constexpr Words<8> kColors = {"red", "blue", "green", "yellow", "big", "small", "shiny", "soft"};
constexpr Words<4> kFeelings = {"happy", "surprised", "excited", "curious"};

// The story skeleton: an opening, a habit, one to three events (in this order) and an ending. {key} is a slot.
constexpr Words<2> kOpenings = {
    "Once upon a time there was a little {animal} named {name}. ",
    "Once upon a time, in a {color} {place}, there lived a little {animal} named {name}. ",
};
constexpr std::string_view kHabit = "{name} liked to {verb} in the {place} every day. ";
constexpr Words<4> kEvents = {
    "One day, {name} found a {color} {object} near the {place}. {name} was very {feeling}. ",
    "Then {name} met a {animal2} named {friend}. {friend} said, \"Hello, {name}! Do you want to {verb} with "
    "me?\" \"Yes!\" said {name}. ",
    "Suddenly it started to rain. {name} ran home and waited for the sun to come back. ",
    "{name} and {friend} shared the {object} and laughed together. ",
};
constexpr Words<3> kEndings = {
    "At the end of the day, {name} was tired but happy. The end.",
    "From that day on, {name} and {friend} were best friends. The end.",
    "{name} went to sleep and dreamed about the {object}. The end.",
};

template <size_t N>
std::string_view pick(const Words<N>& w, Rng& rng) {
  return w[rng.below(N)];
}

struct Slots {
  std::string_view name, friend_, animal, animal2, place, verb, object, color, feeling;
  std::string_view get(std::string_view key) const {
    if (key == "name") return name;
    if (key == "friend") return friend_;
    if (key == "animal") return animal;
    if (key == "animal2") return animal2;
    if (key == "place") return place;
    if (key == "verb") return verb;
    if (key == "object") return object;
    if (key == "color") return color;
    if (key == "feeling") return feeling;
    STRATA_FAIL("synthetic story template has an unknown slot {" + std::string(key) + "}");
  }
};

void fill(std::string& out, std::string_view tmpl, const Slots& s) {
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') {
      out.push_back(tmpl[i]);
      continue;
    }
    const size_t close = tmpl.find('}', i);
    out += s.get(tmpl.substr(i + 1, close - i - 1));
    i = close;
  }
}

std::string story(Rng& rng) {
  Slots s;
  s.name = pick(kNames, rng);
  do s.friend_ = pick(kNames, rng); while (s.friend_ == s.name);
  s.animal = pick(kAnimals, rng);
  s.animal2 = pick(kAnimals, rng);
  s.place = pick(kPlaces, rng);
  s.verb = pick(kVerbs, rng);
  s.object = pick(kObjects, rng);
  s.color = pick(kColors, rng);
  s.feeling = pick(kFeelings, rng);

  std::string out;
  fill(out, pick(kOpenings, rng), s);
  fill(out, kHabit, s);
  // A non-empty subset of the events, kept in order; the friend is always met before being mentioned.
  unsigned events = 0;
  while (events == 0) events = static_cast<unsigned>(rng.below(16));
  if (events & 8u) events |= 2u;
  for (size_t e = 0; e < kEvents.size(); ++e)
    if (events & (1u << e)) fill(out, kEvents[e], s);
  // The friend ending only after meeting the friend.
  const std::string_view ending = kEndings[(events & 2u) ? rng.below(3) : 2 * rng.below(2)];
  fill(out, ending, s);
  return out;
}

}  // namespace

std::vector<Document> synthetic_documents(int n, uint64_t seed, const Tokenizer& tok) {
  STRATA_USER_CHECK(n >= 0, "data.synthetic_documents must be >= 0, got " + std::to_string(n));
  Rng rng(seed ^ 0x243F6A8885A308D3ull);
  std::vector<Document> docs;
  docs.reserve(static_cast<size_t>(n));
  DocumentBuilder doc(tok);
  for (int i = 0; i < n; ++i) {
    doc.add(story(rng), true);
    docs.push_back(doc.finish());
  }
  return docs;
}

}  // namespace strata
