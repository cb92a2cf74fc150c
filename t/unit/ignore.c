/* .socignore as git reads .gitignore: each rule of ignore.c, matched and not, one case a line. */
#include <string.h>

#include "client.h"
#include "tap.h"

struct icase {
	const char *rules;	/* the .socignore text */
	const char *path;
	int is_dir;
	int ignored;
	const char *what;
};

int main(void)
{
	static const struct icase cases[] = {
		{ "", "a", 0, 0, "no rules, nothing ignored" },
		{ "*.log", "x.log", 0, 1, "a glob on the name" },
		{ "*.log", "a/b/x.log", 0, 1, "a name pattern at any depth" },
		{ "*.log", "x.logs", 0, 0, "a glob matches whole names" },
		{ "*.log", "log", 0, 0, "'*' needs the rest to match" },
		{ "*.log", "a.log/x", 0, 1, "the files of an ignored directory" },
		{ "# *.log", "x.log", 0, 0, "a comment" },
		{ "\\#x", "#x", 0, 1, "\\# starts a pattern with '#'" },
		{ "\n\n*.o\n\n", "a.o", 0, 1, "blank lines say nothing" },
		{ "*.o\r\n", "a.o", 0, 1, "CRLF line ends" },
		{ "a?c", "abc", 0, 1, "'?' one byte" },
		{ "a?c", "ac", 0, 0, "'?' exactly one byte" },
		{ "a?c", "a/c", 0, 0, "'?' never a slash" },
		{ "[abc].txt", "b.txt", 0, 1, "a set" },
		{ "[abc].txt", "d.txt", 0, 0, "not in the set" },
		{ "[a-c].txt", "c.txt", 0, 1, "a range" },
		{ "[!a-c].txt", "d.txt", 0, 1, "a negated range" },
		{ "[!a-c].txt", "a.txt", 0, 0, "a negated range, refused" },
		{ "[]]x", "]x", 0, 1, "']' first in a set is itself" },
		{ "[ab", "a", 0, 0, "an unclosed set matches nothing" },
		{ "\\*", "*", 0, 1, "a quoted star" },
		{ "\\*", "a", 0, 0, "a quoted star is no glob" },
		{ "build/", "build", 1, 1, "a trailing slash: a directory" },
		{ "build/", "build", 0, 0, "a trailing slash: not a file" },
		{ "build/", "src/build/x.o", 0, 1, "a directory pattern at any depth" },
		{ "/top", "top", 0, 1, "a leading slash anchors" },
		{ "/top", "a/top", 0, 0, "anchored: not deeper" },
		{ "doc/*.txt", "doc/a.txt", 0, 1, "a slash in the middle anchors" },
		{ "doc/*.txt", "x/doc/a.txt", 0, 0, "anchored by its middle slash" },
		{ "doc/*.txt", "doc/sub/a.txt", 0, 0, "'*' does not cross '/'" },
		{ "**/foo", "foo", 0, 1, "leading ** matches no directory" },
		{ "**/foo", "a/b/foo", 0, 1, "leading ** matches any directories" },
		{ "a/**/b", "a/b", 0, 1, "middle ** matches none" },
		{ "a/**/b", "a/x/y/b", 0, 1, "middle ** matches several" },
		{ "a/**/b", "a/x/c", 0, 0, "middle ** still needs the end" },
		{ "a/**", "a/x", 0, 1, "trailing ** matches inside" },
		{ "a/**", "a/x/y", 0, 1, "trailing ** matches deep inside" },
		{ "a/**", "a", 1, 0, "trailing ** is not the directory itself" },
		{ "**", "any/thing", 0, 1, "** alone matches everything" },
		{ "*.log\n!keep.log", "keep.log", 0, 0, "'!' re-includes" },
		{ "*.log\n!keep.log", "other.log", 0, 1, "'!' re-includes only what it names" },
		{ "!keep.log\n*.log", "keep.log", 0, 1, "the last matching line wins" },
		{ "logs/\n!logs/keep.log", "logs/keep.log", 0, 1, "nothing under an ignored directory comes back" },
		{ "\\!x", "!x", 0, 1, "\\! is a literal '!'" },
		{ "a.txt   ", "a.txt", 0, 1, "trailing spaces are dropped" },
		{ "a\\ ", "a ", 0, 1, "a quoted trailing space stays" },
		{ "x", ".soc/x", 0, 1, ".soc is always ignored" },
		{ "", "a/.SOC/x", 0, 1, ".soc in any case, at any depth" },
		{ "", "a.conflict-r7.txt", 0, 1, "conflict copies are always ignored" },
		{ "", "d/a.conflict-r12", 0, 1, "a conflict copy with no extension" },
		{ "", "a.conflict-rx.txt", 0, 0, "not a revision: an ordinary name" },
		{ "!*.conflict-r*", "a.conflict-r1", 0, 1, "no rule brings a conflict copy back" },
		{ "/", "a", 0, 0, "a lone slash is no pattern" },
		{ "!", "a", 0, 0, "a lone '!' is no pattern" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct icase *c = &cases[i];
		struct ignore ig;
		int got;

		ignore_parse(&ig, c->rules, strlen(c->rules));
		got = ignore_path(&ig, c->path, strlen(c->path), c->is_dir);
		ok(got == c->ignored, "%s (%s %s)", c->what, c->path, got ? "ignored" : "kept");
		ignore_free(&ig);
	}
	return tap_done();
}
