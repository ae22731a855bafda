// Rendering an HTML page in headless Chromium from tests, and reading back the result of the render check
// that actlab::lab::plot::html_page() puts in every page (see actlab/lab/plot.h).
//
// Chromium loads the page, runs its scripts, and prints the resulting DOM (--dump-dom); the check's outcome is
// in the attributes of <div id="render-check">. Needs the Debian package `chromium` (scripts/setup.sh installs
// it). Tests run as root in containers, hence --no-sandbox.
#pragma once

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <system_error>

namespace actlab_test {

// The outcome of render_in_chromium(). On success `error` is empty and the counts are >= 0.
struct RenderCheck {
  int plots = -1, drawn = -1;
  std::string undrawn;  // titles of the undrawn plots, comma-separated (data-undrawn)
  std::string error;    // why there is no result: chromium missing or failing, no render-check element
  std::string title;    // the document title after the script ran (ends with " [rendered M/N]")
};

namespace chromium_detail {

// The chromium executable: /usr/bin/chromium, else `chromium` on PATH; "" if there is none.
inline std::string find_chromium() {
  if (::access("/usr/bin/chromium", X_OK) == 0) return "/usr/bin/chromium";
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (dir.empty()) continue;
    std::string candidate = dir + "/chromium";
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// `s` quoted for /bin/sh.
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// A file:// URL for an absolute path, percent-encoding every byte but unreserved characters and '/'.
inline std::string file_url(const std::filesystem::path& absolute) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string url = "file://";
  for (unsigned char c : absolute.string()) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '.' || c == '_' || c == '~') {
      url += static_cast<char>(c);
    } else {
      url += '%';
      url += kHex[c >> 4];
      url += kHex[c & 15];
    }
  }
  return url;
}

// Appends code point `cp` to `out` as UTF-8.
inline void append_utf8(std::string& out, unsigned long cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Decodes the character references a serialized attribute value can hold: the named ones Chromium writes
// (&amp; &lt; &gt; &quot; &nbsp;, and &apos;) and numeric ones. Anything else is kept as is.
inline std::string unescape_attribute(std::string_view s) {
  static const std::map<std::string, unsigned long, std::less<>> kNamed = {
      {"amp", '&'}, {"lt", '<'}, {"gt", '>'}, {"quot", '"'}, {"apos", '\''}, {"nbsp", 0xA0}};
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    size_t semi = s[i] == '&' ? s.find(';', i) : std::string_view::npos;
    if (semi == std::string_view::npos || semi - i > 10) {
      out += s[i];
      continue;
    }
    std::string_view ref = s.substr(i + 1, semi - i - 1);
    unsigned long cp = 0;
    bool ok = false;
    if (!ref.empty() && ref[0] == '#') {
      std::string digits(ref.substr(1));
      bool hex = !digits.empty() && (digits[0] == 'x' || digits[0] == 'X');
      if (hex) digits.erase(0, 1);
      char* end = nullptr;
      cp = std::strtoul(digits.c_str(), &end, hex ? 16 : 10);
      ok = !digits.empty() && *end == '\0' && cp <= 0x10FFFF;
    } else if (auto it = kNamed.find(ref); it != kNamed.end()) {
      cp = it->second;
      ok = true;
    }
    if (!ok) {
      out += s[i];
      continue;
    }
    append_utf8(out, cp);
    i = semi;
  }
  return out;
}

// The attributes of the first start tag named `tag` (lower case, e.g. "div") in `html` whose id is `id`.
// A small tokenizer, enough for serialized DOM: attribute values are double- or single-quoted or bare.
inline std::optional<std::map<std::string, std::string>> find_element(const std::string& html,
                                                                      const std::string& tag,
                                                                      const std::string& id) {
  const std::string open = "<" + tag;
  for (size_t pos = html.find(open); pos != std::string::npos; pos = html.find(open, pos + 1)) {
    size_t i = pos + open.size();
    if (i >= html.size() || !(std::isspace(static_cast<unsigned char>(html[i])) || html[i] == '>')) continue;
    std::map<std::string, std::string> attrs;
    while (i < html.size() && html[i] != '>') {
      if (std::isspace(static_cast<unsigned char>(html[i])) || html[i] == '/') {
        ++i;
        continue;
      }
      size_t name_start = i;
      while (i < html.size() && !std::isspace(static_cast<unsigned char>(html[i])) && html[i] != '=' &&
             html[i] != '>')
        ++i;
      std::string name = html.substr(name_start, i - name_start);
      std::string value;
      if (i < html.size() && html[i] == '=') {
        ++i;
        if (i < html.size() && (html[i] == '"' || html[i] == '\'')) {
          char quote = html[i++];
          size_t end = html.find(quote, i);
          if (end == std::string::npos) end = html.size();
          value = unescape_attribute(std::string_view(html).substr(i, end - i));
          i = end + 1;
        } else {
          size_t start = i;
          while (i < html.size() && !std::isspace(static_cast<unsigned char>(html[i])) && html[i] != '>') ++i;
          value = unescape_attribute(std::string_view(html).substr(start, i - start));
        }
      }
      attrs[name] = value;
    }
    if (auto it = attrs.find("id"); it != attrs.end() && it->second == id) return attrs;
  }
  return std::nullopt;
}

// The text of the first <title> element, unescaped; "" if none.
inline std::string document_title(const std::string& html) {
  size_t start = html.find("<title>");
  if (start == std::string::npos) return "";
  start += 7;
  size_t end = html.find("</title>", start);
  if (end == std::string::npos) return "";
  return unescape_attribute(std::string_view(html).substr(start, end - start));
}

// The last `n` bytes of a file ("" if unreadable).
inline std::string file_tail(const std::filesystem::path& path, size_t n) {
  std::ifstream in(path, std::ios::binary);
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return s.size() > n ? "..." + s.substr(s.size() - n) : s;
}

// A fresh directory under the system temp dir, removed (with everything in it) at scope exit.
struct ScratchDir {
  std::filesystem::path path;
  ScratchDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "actlab-chromium-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) path = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
};

// Runs `command` through /bin/sh, returning its stdout and setting *exit_code (128 + signal if killed).
inline std::string run_capture(const std::string& command, int* exit_code) {
  std::string out;
  *exit_code = -1;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  std::array<char, 65536> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : -1;
  return out;
}

}  // namespace chromium_detail

// Loads the HTML file at `html_path` in headless Chromium and returns what its render check found.
//
// Chromium runs with a fresh, temporary profile (removed afterwards), under `timeout 120`, and with
// --virtual-time-budget so that the page's load handlers have run before the DOM is dumped without waiting in
// real time. Its stderr (which is noisy even on success: D-Bus, GPU and the like) goes to a file whose tail
// ends up in `error` if there is no result. A failure exit without a result is retried once, since an
// overloaded machine occasionally kills a renderer; a timeout is not.
inline RenderCheck render_in_chromium(const std::string& html_path) {
  namespace fs = std::filesystem;
  RenderCheck result;
  const std::string chromium = chromium_detail::find_chromium();
  if (chromium.empty()) {
    result.error = "chromium not found: install the Debian package chromium (scripts/setup.sh does)";
    return result;
  }
  std::error_code ec;
  const fs::path page = fs::absolute(html_path, ec);
  if (ec || !fs::is_regular_file(page)) {
    result.error = "no such page: " + html_path;
    return result;
  }

  constexpr int kAttempts = 2;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    chromium_detail::ScratchDir scratch;
    if (scratch.path.empty()) {
      result.error = "cannot create a temporary directory for the chromium profile";
      return result;
    }
    const fs::path profile = scratch.path / "profile", log = scratch.path / "stderr.log";
    const std::string command =
        "timeout 120 " + chromium_detail::shell_quote(chromium) +
        " --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --no-first-run --no-default-browser-check"
        " --user-data-dir=" + chromium_detail::shell_quote(profile.string()) +
        " --virtual-time-budget=5000 --dump-dom " + chromium_detail::shell_quote(chromium_detail::file_url(page)) +
        " </dev/null 2>" + chromium_detail::shell_quote(log.string());
    int code = -1;
    const std::string dom = chromium_detail::run_capture(command, &code);

    auto check = chromium_detail::find_element(dom, "div", "render-check");
    if (check && check->count("data-plots") && check->count("data-drawn")) {
      result.plots = std::atoi((*check)["data-plots"].c_str());
      result.drawn = std::atoi((*check)["data-drawn"].c_str());
      result.undrawn = (*check)["data-undrawn"];
      result.title = chromium_detail::document_title(dom);
      result.error.clear();
      return result;
    }
    std::ostringstream why;
    why << "chromium " << (code == 124 ? "timed out after 120 s" : "exited with status " + std::to_string(code))
        << " (attempt " << attempt << " of " << kAttempts << ") and the page it dumped ("
        << dom.size() << " bytes) has no complete <div id=\"render-check\">, so the page's script did not run"
        << "\ncommand: " << command << "\nstderr: " << chromium_detail::file_tail(log, 2000);
    result.error = why.str();
    if (code == 0 || code == 124) break;  // a page without the check, or a hang: retrying will not help
  }
  return result;
}

}  // namespace actlab_test
