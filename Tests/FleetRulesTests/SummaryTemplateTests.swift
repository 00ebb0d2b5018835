import Testing

@testable import FleetRules

@Suite struct SummaryTemplateTests {
    static func render(_ template: String) -> String {
        SummaryTemplate.render(template) { name in
            ["device": "d-7", "value": "21.5", "site": "plant-ä"][name] ?? "<\(name)?>"
        }
    }

    @Test func fillsPlaceholdersWithOrWithoutBlanks() {
        #expect(Self.render("{{device}} at {{ value }} °C") == "d-7 at 21.5 °C")
        #expect(Self.render("{{\tsite\t}}/{{device}}") == "plant-ä/d-7")
        #expect(Self.render("{{\u{00A0}device\u{2009}}}") == "d-7")
        #expect(Self.render("{{device}}{{value}}") == "d-721.5")
        #expect(Self.render("no placeholders, ünïcödé") == "no placeholders, ünïcödé")
        #expect(Self.render("") == "")
    }

    @Test func parsesOnceIntoTextAndPlaceholders() {
        #expect(
            SummaryTemplate.parse("{{device}} at {{ value }} °C")
                == [.placeholder("device"), .text(" at "), .placeholder("value"), .text(" °C")])
        #expect(SummaryTemplate.parse("{{a}} {{b") == [.placeholder("a"), .text(" {{b")])
    }

    @Test func unknownEmptyAndUnclosedPlaceholders() {
        #expect(Self.render("{{nope}}!") == "<nope?>!")
        #expect(Self.render("a {{}} b") == "a <?> b")
        #expect(Self.render("{{device}} {{value") == "d-7 {{value")
        #expect(Self.render("{ {device} }") == "{ {device} }")
        #expect(Self.render("{{{device}}}") == "<{device?>}")
    }
}
