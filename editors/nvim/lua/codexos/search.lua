-- :CodexSearch — results of `codexos/search` into the quickfix list or a picker with previews.
local M = {}

local function to_items(results)
  local items = {}
  for _, r in ipairs(results or {}) do
    local first_line = (r.snippet or ""):match("[^\n]*") or ""
    table.insert(items, {
      filename = vim.uri_to_fname(r.uri),
      lnum = r.range.start.line + 1,
      col = r.range.start.character + 1,
      end_lnum = r.range["end"].line + 1,
      text = ("%.3f %s %s"):format(r.score or 0, r.symbol or "", vim.trim(first_line)),
    })
  end
  return items
end

function M.search(query)
  local codexos = require("codexos")
  local client = codexos.client()
  if not client then
    return
  end
  local params = { query = query, k = codexos.config.search_k }
  client:request("codexos/search", params, function(err, results)
    if err then
      vim.notify("codexos: search failed: " .. err.message, vim.log.levels.ERROR)
      return
    end
    local items = to_items(results)
    if #items == 0 then
      vim.notify("codexos: no results for " .. query, vim.log.levels.INFO)
      return
    end
    if codexos.config.search_results == "select" then
      vim.ui.select(items, {
        prompt = "CodexOS: " .. query,
        format_item = function(item)
          return ("%s:%d %s"):format(vim.fn.fnamemodify(item.filename, ":."), item.lnum, item.text)
        end,
      }, function(item)
        if item then
          vim.cmd.edit(vim.fn.fnameescape(item.filename))
          vim.api.nvim_win_set_cursor(0, { item.lnum, item.col - 1 })
        end
      end)
    else
      vim.fn.setqflist({}, " ", { title = "CodexOS: " .. query, items = items })
      vim.cmd.copen()
    end
  end)
end

M.to_items = to_items
return M
