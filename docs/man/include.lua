-- Pandoc filter for the man pages: a Div with an include attribute is
-- replaced by that Markdown file from docs/, so a page is a few lines of
-- front matter (NAME, SYNOPSIS, SEE ALSO) around the docs themselves.
--
--   ::: {include="../cli.md" shift="-1"}
--   :::
--
-- include  a path relative to this page's source, or @KEY for the path
--          given as metadata (pandoc -M KEY=PATH: a generated file)
-- format   its format (default gfm, as GitHub shows docs/)
-- section  keep only the level-2 section whose title starts with this,
--          without its own title
-- shift    added to every header's level; a header that falls below
--          level 1 is dropped (a doc's own "# Title")
--
-- Links into other docs keep their text only: a man page has no docs/
-- beside it, and SEE ALSO names the other pages. Tables become lists, as
-- man pages have them: the first cell is the tag, the longest column the
-- text, the others "(header: value)" after the tag. (tbl's columns, at a
-- terminal's width, hyphenate key names and make groff warn.)

local meta = {}

local function read_file(path)
  local f = io.open(path, 'r')
  if not f then
    error('include.lua: cannot read ' .. path)
  end
  local text = f:read('a')
  f:close()
  return text
end

local function resolve(spec)
  if spec:sub(1, 1) == '@' then
    local value = meta[spec:sub(2)]
    if value == nil then
      error('include.lua: no metadata ' .. spec:sub(2) .. ' (pandoc -M)')
    end
    return pandoc.utils.stringify(value)
  end
  local from = PANDOC_STATE.input_files[1] or '.'
  return pandoc.path.join({pandoc.path.directory(from), spec})
end

local function only_section(blocks, prefix, path)
  local out, inside = {}, false
  for _, b in ipairs(blocks) do
    if b.t == 'Header' and b.level <= 2 then
      inside = b.level == 2 and
               pandoc.utils.stringify(b.content):sub(1, #prefix) == prefix
    elseif inside then
      out[#out + 1] = b
    end
  end
  if #out == 0 then
    error('include.lua: ' .. path .. ' has no section "' .. prefix .. '"')
  end
  return out
end

local NONE = '\u{2014}'  -- the docs' "no default"

local function table_to_list(tbl)
  local t = pandoc.utils.to_simple_table(tbl)
  local text = pandoc.utils.stringify
  local main, longest = #t.headers, -1
  for c = 2, #t.headers do
    local len = 0
    for _, row in ipairs(t.rows) do
      len = len + #text(row[c])
    end
    if len > longest then
      main, longest = c, len
    end
  end
  local items = {}
  for _, row in ipairs(t.rows) do
    local tag = pandoc.List(pandoc.utils.blocks_to_inlines(row[1]))
    local extra = pandoc.List()
    for c = 2, #t.headers do
      if c ~= main and text(row[c]) ~= '' and text(row[c]) ~= NONE then
        if #extra > 0 then
          extra:extend({pandoc.Str(';'), pandoc.Space()})
        end
        extra:extend({pandoc.Str(text(t.headers[c]) .. ':'), pandoc.Space()})
        extra:extend(pandoc.utils.blocks_to_inlines(row[c]))
      end
    end
    if #extra > 0 then
      tag:extend({pandoc.Space(), pandoc.Str('(')})
      tag:extend(extra)
      tag:insert(pandoc.Str(')'))
    end
    items[#items + 1] = {tag, {row[main]}}
  end
  return pandoc.DefinitionList(items)
end

local rewrite = {
  Link = function(l)
    if not l.target:match('^%a[%w+.-]*:') then
      return l.content
    end
  end,
  Table = table_to_list,
}

local function include(div)
  local spec = div.attributes.include
  if not spec then
    return nil
  end
  local path = resolve(spec)
  local blocks = pandoc.read(read_file(path), div.attributes.format or 'gfm').blocks
  if div.attributes.section then
    blocks = only_section(blocks, div.attributes.section, path)
  end
  local shift = tonumber(div.attributes.shift or '0')
  local out = {}
  for _, b in ipairs(blocks) do
    if b.t ~= 'Header' then
      out[#out + 1] = b
    elseif b.level + shift >= 1 then
      b.level = b.level + shift
      out[#out + 1] = b
    end
  end
  return pandoc.walk_block(pandoc.Div(out), rewrite).content
end

return {
  {Meta = function(m) meta = m end},
  {Div = include},
}
