// ReplyText, the streamed text of a reply: fed one byte-level token at a time, the printed pieces never split a UTF-8
// character, a stop text ends the reply without being printed (its first bytes are held back until they cannot start
// it), stop ids are not spelled, and the pieces joined are the reply's text.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/reply_text.h"
#include "tokenizer/tokenizer.h"

namespace strata {
namespace {

// Feeds the bytes of `text` as byte-tokenizer ids; returns the pieces printed.
std::vector<std::string> feed(ReplyText& r, const std::string& text) {
  std::vector<std::string> pieces;
  for (unsigned char c : text) pieces.push_back(r.add((int32_t)c));
  return pieces;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = (unsigned char)s[i];
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if (((unsigned char)s[i + k] >> 6) != 2) return false;
    i += len;
  }
  return true;
}

TEST(ReplyText, PiecesNeverSplitACharacterAndJoinToTheText) {
  ByteTokenizer tok;
  ReplyText r(tok, {tok.eos_id()});
  const std::string text = "h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80!";  // é, €, an emoji: 2, 3 and 4 bytes
  std::string joined;
  for (const std::string& p : feed(r, text)) {
    EXPECT_TRUE(valid_utf8(p)) << "a piece splits a character";
    joined += p;
  }
  EXPECT_EQ(joined, text);
  EXPECT_EQ(r.text(), text);
  EXPECT_EQ(r.add(tok.eos_id()), "") << "a stop id is not spelled";
  EXPECT_EQ(r.text(), text);
}

TEST(ReplyText, AStopTextEndsTheReplyUnprinted) {
  ByteTokenizer tok;
  ReplyText r(tok, {}, "<|im_end|>");
  std::string joined;
  for (const std::string& p : feed(r, "Fine, <|im thanks<|im_end|>more")) joined += p;
  EXPECT_TRUE(r.stopped_by_text());
  EXPECT_EQ(joined, "Fine, <|im thanks");  // "<|im" was held back, then printed once it could not be the stop
  EXPECT_EQ(r.text(), "Fine, <|im thanks");
}

}  // namespace
}  // namespace strata
