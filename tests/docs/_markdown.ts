/**
 * Private helper of code_blocks_test.ts: reads the markdown users read (README.md,
 * docs/**\/*.md, examples/**\/README.md) and extracts its fenced code blocks, headings and
 * links; checks the links and the README's table of contents.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
/** Every fence info string the docs may use (docs/CONTRIBUTING.md, "Code blocks in the docs"). */
export const FENCES: readonly string[] = [
  "ts",
  "ts run",
  "js",
  "js run",
  "json",
  "jsonc",
  "sh",
  "text",
  "ini",
];

/** One fenced code block. */
export interface Block {
  /** The markdown file, relative to the docs root. */
  file: string;
  /** The line of its opening fence (1-based). */
  line: number;
  /** The info string, spaces collapsed: `ts run`. */
  info: string;
  code: string;
  closed: boolean;
}

/** A markdown link or HTML href/src. */
export interface Link {
  target: string;
  line: number;
  /** On a list item line (a table of contents is a list of links). */
  listItem: boolean;
}

/** An ATX heading with its GitHub anchor. */
export interface Heading {
  level: number;
  text: string;
  anchor: string;
  line: number;
}

/** One scanned markdown file. */
export interface Page {
  file: string;
  bytes: number;
  headings: Heading[];
  anchors: Set<string>;
  links: Link[];
  blocks: Block[];
}

/** A failing block, link or file: where, and the tool's error. */
export interface Failure {
  where: string;
  error: string;
}

/** `<file>:<line>` of a block. */
export const at = (b: Block): string => `${b.file}:${b.line}`;

/** The markdown files users read, relative to `root`: README.md, docs/**, examples/** READMEs. */
export function docFiles(root: string): string[] {
  const walk = (dir: string, keep: (name: string) => boolean): string[] =>
    !existsSync(join(root, dir)) ? [] : readdirSync(join(root, dir), { withFileTypes: true })
      .flatMap((e) =>
        e.isDirectory()
          ? walk(join(dir, e.name), keep)
          : e.isFile() && keep(e.name)
          ? [join(dir, e.name)]
          : []
      );
  return [
    ...(existsSync(join(root, "README.md")) ? ["README.md"] : []),
    ...walk("docs", (n) => n.endsWith(".md")).sort(),
    ...walk("examples", (n) => n === "README.md").sort(),
  ];
}

/** GitHub's anchor for a heading's text (github-slugger). */
export function githubSlug(text: string): string {
  return text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, "").replace(/ /g, "-");
}

/** A heading's rendered text: links, tags, code ticks and emphasis marks removed. */
function headingText(raw: string): string {
  return raw.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1").replace(/<[^>]+>/g, "")
    .replace(/[`*~]/g, "").replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"').trim();
}

const OPEN = /^(\s*)(`{3,}|~{3,})\s*([^`]*?)\s*$/;
const HEADING = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const LINK = /!?\[[^\]]*\]\(\s*<?([^()\s>]+(?:\([^()\s]*\)[^()\s>]*)*)>?(?:\s+"[^"]*")?\s*\)/g;
const REF_DEF = /^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/;
const HREF = /\b(?:href|src)="([^"]+)"/g;
const HTML_ID = /<a\s[^>]*\b(?:id|name)="([^"]+)"/g;

/** Scans one markdown file (CommonMark fences: ``` or ~~~, closed by the same run or longer). */
export function scanPage(file: string, text: string): Page {
  const page: Page = {
    file,
    bytes: new TextEncoder().encode(text).length,
    headings: [],
    anchors: new Set(),
    links: [],
    blocks: [],
  };
  const seen = new Map<string, number>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = OPEN.exec(lines[i]);
    if (open) {
      const [, indent, fence, info] = open;
      const code: string[] = [];
      const close = new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`);
      let j = i + 1;
      for (; j < lines.length && !close.test(lines[j]); j++) {
        code.push(lines[j].replace(new RegExp(`^ {0,${indent.length}}`), ""));
      }
      page.blocks.push({
        file,
        line: i + 1,
        info: info.replace(/\s+/g, " "),
        code: code.join("\n") + "\n",
        closed: j < lines.length,
      });
      i = j;
      continue;
    }
    const heading = HEADING.exec(lines[i]);
    if (heading) {
      const base = githubSlug(headingText(heading[2]));
      const n = seen.get(base) ?? 0;
      seen.set(base, n + 1);
      const anchor = n === 0 ? base : `${base}-${n}`;
      page.headings.push({ level: heading[1].length, text: heading[2], anchor, line: i + 1 });
      page.anchors.add(anchor);
    }
    const line = lines[i].replace(/(`+)[^`]*?\1/g, "");
    const listItem = /^\s*(?:[-*+]|\d+[.)])\s/.test(line);
    const targets = [
      ...[...line.matchAll(LINK)].map((m) => m[1]),
      ...[...line.matchAll(HREF)].map((m) => m[1]),
      ...(REF_DEF.test(line) ? [REF_DEF.exec(line)![1]] : []),
    ];
    for (const target of targets) page.links.push({ target, line: i + 1, listItem });
    for (const m of line.matchAll(HTML_ID)) page.anchors.add(m[1]);
  }
  return page;
}

/** Scans every doc file under `root`. */
export function readDocs(root: string): Page[] {
  return docFiles(root).map((f) => scanPage(f, readFileSync(join(root, f), "utf8")));
}

/** Problems with a block's fence: an unknown language, or no closing fence. */
export function brokenLinks(root: string, pages: readonly Page[]): Failure[] {
  const anchors = new Map<string, Set<string>>(
    pages.map((p) => [resolve(root, p.file), p.anchors]),
  );
  const anchorsOf = (path: string): Set<string> => {
    if (!anchors.has(path)) {
      anchors.set(path, scanPage(relative(root, path), readFileSync(path, "utf8")).anchors);
    }
    return anchors.get(path)!;
  };
  const failures: Failure[] = [];
  for (const page of pages) {
    for (const link of page.links) {
      if (/^(?:[a-z][a-z0-9+.-]*:|\/\/)/i.test(link.target)) continue;
      const [rawPath, anchor] = link.target.split("#", 2);
      const path = decodeURIComponent(rawPath);
      const target = path === ""
        ? resolve(root, page.file)
        : path.startsWith("/")
        ? join(root, path)
        : resolve(root, dirname(page.file), path);
      const where = `${page.file}:${link.line}`;
      if (!existsSync(target)) {
        failures.push({
          where,
          error: `'${link.target}': ${relative(root, target)} does not exist`,
        });
      } else if (anchor && target.endsWith(".md") && !anchorsOf(target).has(anchor)) {
        failures.push({
          where,
          error: `'${link.target}': ${
            relative(root, target)
          } has no heading with anchor #${anchor}`,
        });
      }
    }
  }
  return failures;
}

/**
 * The README's table of contents: the `[text](#anchor)` links on list items before its
 * second `##` heading (so above the first section, or inside a first "Contents" section).
 * Returns what is wrong with it: missing, linking nowhere, or leaving a `##` section out.
 */
export function tocProblems(readme: Page): string[] {
  const sections = readme.headings.filter((h) => h.level === 2);
  const end = sections[1]?.line ?? Infinity;
  const toc = readme.links.filter((l) => l.listItem && l.line < end && l.target.startsWith("#"));
  if (toc.length === 0) {
    return ["no table of contents: a list of [text](#anchor) links before the second ## section"];
  }
  const linked = new Set(toc.map((l) => l.target.slice(1)));
  const tocSection = sections.find((h) => h.line < toc[0].line && h.line === sections[0].line);
  return [
    ...toc.filter((l) => !readme.anchors.has(l.target.slice(1)))
      .map((l) => `README.md:${l.line}: the contents link '${l.target}' matches no heading`),
    ...sections.filter((h) => h !== tocSection && !linked.has(h.anchor))
      .map((h) => `README.md:${h.line}: '## ${h.text}' is not in the contents (#${h.anchor})`),
  ];
}
