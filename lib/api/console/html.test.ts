import { describe, expect, it } from '@jest/globals';

import { escapeHtml, html, query, trusted } from './html.js';

/** The template under another name, so the formatter leaves the expected markup as written. */
const h = html;

describe('console HTML', () => {
  it('escapes the five markup characters and the backquote', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`</a>`)).toBe(
      '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;&lt;/a&gt;',
    );
  });

  it('escapes every interpolated value, in text and in attributes', () => {
    const name = '"><script>alert(1)</script>';
    const page = h`<p title="${name}">${name}</p>`.text;
    expect(page).not.toContain('<script>');
    expect(page).toBe(
      '<p title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;</p>',
    );
  });

  it('keeps nested templates and trusted fragments as markup, escapes lists item by item', () => {
    const items = ['<b>', 'x&y'].map((item) => h`<li>${item}</li>`);
    expect(h`<ul>${items}</ul>${trusted('<hr>')}`.text).toBe('<ul><li>&lt;b&gt;</li><li>x&amp;y</li></ul><hr>');
  });

  it('renders absent values as nothing and numbers as text, and refuses objects', () => {
    expect(h`${undefined}${null}${false}${0}${12.5}`.text).toBe('012.5');
    expect(() => h`${{ toString: () => '<b>' }}`).toThrow(TypeError);
  });

  it('builds query strings without empty parameters, encoded, then escaped in links', () => {
    const href = query({ q: 'a&b "c"', state: '', page: 2, machine: undefined });
    expect(href).toBe('?q=a%26b+%22c%22&page=2');
    expect(h`<a href="/console/sources${query({ name: '<x>' })}"></a>`.text).toBe(
      '<a href="/console/sources?name=%3Cx%3E"></a>',
    );
  });
});
