import Testing

@testable import FleetRules

@Suite struct MarkupEscapingTests {
    @Test func theFiveMarkupCharactersBecomeReferences() {
        #expect(
            Markup.escape(#"<a href="x">Tom & Jerry's</a>"#)
                == "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;")
    }

    @Test func plainTextAndUnicodeAreKept() {
        #expect(Markup.escape("plant-a · 20 °C, ✓") == "plant-a · 20 °C, ✓")
        #expect(Markup.escape("") == "")
    }

    @Test func controlCharactersXMLForbidsAreDropped() {
        #expect(Markup.escape("a\u{0}b\u{7}c\u{1B}d") == "abcd")
        #expect(Markup.escape("line\n\tcol\r\n") == "line\n\tcol\r\n")
    }

    @Test func aCombiningMarkDoesNotHideAQuote() {
        #expect(Markup.escape("\"\u{301}") == "&quot;\u{301}")
        #expect(Markup.escape("&\u{301}") == "&amp;\u{301}")
    }

    @Test func theHTMLReportAndJUnitShareIt() {
        #expect(HTMLRenderer.esc("<x & 'y'>") == Markup.escape("<x & 'y'>"))
    }
}
