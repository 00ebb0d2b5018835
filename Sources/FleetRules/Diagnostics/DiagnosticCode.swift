/// The stable codes of every diagnostic; docs/ERRORS.md lists them (a test keeps it in step).
public enum DiagnosticCode: String, Sendable, Hashable, Codable, CaseIterable {
    // Reading files and YAML.
    case cannotRead = "E0001"
    case yamlSyntax = "E0002"
    case invalidUTF8 = "E0003"
    case fileTooLarge = "E0004"
    case aliasLimit = "E0005"
    case nestingTooDeep = "E0006"
    case emptyFile = "E0007"
    case tabIndentation = "E0008"
    case tooManyRules = "E0009"
    case unsupportedYAML = "E0010"

    // Document structure.
    case version = "E0101"
    case notAMapping = "E0102"
    case unknownKey = "E0103"
    case wrongType = "E0104"
    case missingField = "E0105"
    case duplicateKey = "E0106"
    case duplicateName = "E0107"
    case unknownRuleKind = "E0108"
    case invalidName = "E0109"
    case invalidValue = "E0110"
    case conflictingMetric = "E0111"
    case invalidDuration = "E0112"
    case invalidTimestamp = "E0113"
    case invalidTemplate = "E0114"
    case conflictingSchedule = "E0119"
    // Group rules.
    case groupFunctionOutsideGroup = "E0130"
    case perDeviceInGroup = "E0131"
    case unknownInhibitedRule = "E0132"
    case levelsConflict = "E0120"
    case invalidLevels = "E0121"
    case overlappingLevels = "E0122"
    case debounceWithLevels = "E0123"
    case invalidReadingCount = "E0124"

    // Expressions.
    case expressionSyntax = "E0201"
    case unknownName = "E0202"
    case unknownMetric = "E0203"
    case unknownFunction = "E0204"
    case wrongArguments = "E0205"
    case typeMismatch = "E0206"
    case unitMismatch = "E0207"
    case invalidRegex = "E0208"
    case invalidVersion = "E0209"
    case invalidRange = "E0210"
    case macroRecursion = "E0211"
    case notBoolean = "E0212"
    case expansionLimit = "E0213"
    case expansionDepth = "E0214"
    case groupFunctionArgument = "E0225"

    // Warnings: legal but almost certainly not what the author meant.
    case unusedList = "W0301"
    case unusedMacro = "W0302"
    case neverFires = "W0303"
    case alwaysTrue = "W0304"
    case shadowedRule = "W0305"
    case shorterThanInterval = "W0306"
    case unknownUnit = "W0307"
    case ignoredSetting = "W0308"
    case groupForShorterThanTick = "W0314"

    // Data checks (`fleetrules check --data`): the rules against real telemetry and inventory.
    case metricNotInData = "W0401"
    case attributeNotInData = "W0402"
    case fieldUnused = "I0403"
    case neverFired = "W0404"
    case firesForMost = "W0405"
    case notEvaluated = "I0406"
    case rejectedInput = "W0407"

    // Rule tests (`fleetrules test`).
    case testVersion = "E0501"
    case testRules = "E0502"
    case seriesNotation = "E0503"
    case unknownTestReference = "E0504"
    // Delivery configuration (`fleetrules check --delivery`).
    case unknownReceiver = "E0601"
    case invalidURL = "E0602"
    case invalidPhone = "E0603"
    case unusedReceiver = "W0604"
    case weakSecret = "W0605"
    case invalidMatcher = "E0606"

    // Schedules (`time_intervals:`, `active_during`, `mute_during`, routes' time intervals).
    case unknownTimeInterval = "E0140"
    case invalidTimeZone = "E0141"
    case invalidTimeRange = "E0142"
    case muteScopeReadsTelemetry = "E0143"
    case conflictingTimeInterval = "E0144"
    case unusedTimeInterval = "W0318"

    // Inventory thresholds: numeric attributes with units.
    case unitlessAttribute = "E0230"
    case unitOnNonNumber = "E0231"
    case attributeWithoutValue = "W0319"

    // Rollout health gates.
    case abortWithoutStale = "W0320"
    case unknownRouteTimeInterval = "E0610"

    public var defaultSeverity: Severity {
        rawValue.hasPrefix("W") ? .warning : rawValue.hasPrefix("I") ? .info : .error
    }

    /// What the code means, one line, for docs/ERRORS.md and `--format json` consumers.
    public var title: String {
        switch self {
        case .cannotRead: "a path cannot be read"
        case .yamlSyntax: "the file is not well-formed YAML"
        case .invalidUTF8: "the file is not valid UTF-8"
        case .fileTooLarge: "the file is larger than the limit (8 MiB)"
        case .aliasLimit: "YAML aliases expand to more nodes than the limit (billion-laughs guard)"
        case .nestingTooDeep: "YAML nesting is deeper than the limit (64 levels)"
        case .emptyFile: "the file holds no document"
        case .tabIndentation: "a tab is used for indentation"
        case .tooManyRules: "more rules than the limit (10,000 per policy set)"
        case .unsupportedYAML: "a YAML feature FleetRules does not accept (several documents, complex keys, merge keys)"
        case .version: "the `fleetrules:` version key is missing or not supported"
        case .notAMapping: "a file or rule is not a mapping"
        case .unknownKey: "a key is not known at this place"
        case .wrongType: "a value has the wrong YAML type"
        case .missingField: "a required field is missing"
        case .duplicateKey: "a key appears twice in one mapping"
        case .duplicateName: "a rule id, list or macro name is defined twice"
        case .unknownRuleKind: "a rule does not start with a known kind"
        case .invalidName: "a rule id or name is not lowercase letters, digits, `-` or `_`"
        case .invalidValue: "a value is not one of the accepted values or out of its range"
        case .conflictingSchedule: "two files declare different `schedule:` sections"
        case .groupFunctionOutsideGroup:
            "a group function (`share()`, `devices()`, `avg_of()` …) is used outside a group rule"
        case .perDeviceInGroup: "a group rule's condition reads a per-device value outside a group function"
        case .unknownInhibitedRule: "a group rule's `inhibits` names no per-device alert or limit rule"
        case .groupFunctionArgument: "a group function gets the wrong number or kind of arguments"
        case .groupForShorterThanTick: "a group rule's `for` is shorter than its tick `every`"
        case .levelsConflict:
            "an alert with `levels` also gives `when`, `clear` or `severity`, which belong to each level"
        case .invalidLevels: "`levels` is empty, or its levels are not in ascending severity, one per severity"
        case .overlappingLevels: "a more severe level's threshold is reached before a milder level's"
        case .debounceWithLevels:
            "an alert with `levels` counts `for` in readings or has `clear_for`, which levels do not take"
        case .invalidReadingCount: "a count of readings in `for` or `clear_for` is not between 1 and 1,000,000"
        case .conflictingMetric: "a metric is declared twice with different units or ranges"
        case .invalidDuration: "a duration is malformed or not positive"
        case .invalidTimestamp: "a timestamp is not RFC 3339"
        case .invalidTemplate: "a summary template is malformed or names an unknown field"
        case .expressionSyntax: "an expression cannot be parsed"
        case .unknownName: "an identifier is not an attribute, list, macro or `now`"
        case .unknownMetric: "a metric is not declared in `metrics`"
        case .unknownFunction: "a function does not exist"
        case .wrongArguments: "a function gets the wrong number or kind of arguments"
        case .typeMismatch: "operand types do not fit the operator"
        case .unitMismatch: "operands have different units"
        case .invalidRegex: "a `matches` pattern is not a valid regular expression"
        case .invalidVersion: "a version literal cannot be parsed"
        case .invalidRange: "a version range cannot be parsed"
        case .macroRecursion: "a macro refers to itself, directly or through other macros"
        case .notBoolean: "a condition is not a boolean expression"
        case .expansionLimit: "a condition expands to more nodes than the limit (100,000) once macros are inlined"
        case .expansionDepth: "a condition nests deeper than the limit (200 levels) once macros are inlined"
        case .unusedList: "a list is never referenced"
        case .unusedMacro: "a macro is never referenced"
        case .neverFires: "a condition can never hold given the declared metric ranges"
        case .alwaysTrue: "a condition always holds given the declared metric ranges"
        case .shadowedRule: "a rule repeats the condition of an earlier rule"
        case .shorterThanInterval: "a `for` or window is shorter than the metric's reporting interval"
        case .unknownUnit: "a metric's unit is not one FleetRules knows"
        case .ignoredSetting: "a setting has no effect in this rule"
        case .metricNotInData: "a metric the rules read never occurs in the data"
        case .attributeNotInData: "an attribute the rules read is neither an inventory column nor a telemetry field"
        case .fieldUnused: "a field occurs in the data but no rule reads it"
        case .neverFired: "a rule of any kind never fired on the data"
        case .firesForMost: "a rule fired for more than 90% of the devices it applies to (threshold likely mis-set)"
        case .notEvaluated:
            "a rule the engine compiles but does not evaluate (a correlation of an unsupported form), so the data checks skip it"
        case .rejectedInput: "some telemetry lines were rejected (malformed, unknown device, out of range, …)"
        case .testVersion: "the `fleetrules-test:` version key of a test file is missing or not supported"
        case .testRules: "the rules a test file names cannot be found or have errors"
        case .seriesNotation: "an input series of a test is not valid series notation"
        case .unknownTestReference:
            "a test names a rule, device, metric or attribute that the rules or the test's inventory lack"
        case .unknownReceiver: "a delivery route names a receiver that is not defined"
        case .invalidURL: "a webhook or SMS gateway URL is not an absolute http(s) URL"
        case .invalidPhone: "a phone number is not in E.164 form (+ and 8 to 15 digits)"
        case .unusedReceiver: "a delivery receiver is never reached by any route"
        case .weakSecret: "a webhook signing secret is shorter than 16 bytes"
        case .invalidMatcher:
            "a delivery matcher is malformed: an unknown operator, a bad label name or a regular expression that does not compile"
        case .unknownTimeInterval: "a rule names a time interval that `time_intervals:` does not define"
        case .invalidTimeZone: "a time interval's `location` is not an IANA time zone of the system's tz database"
        case .invalidTimeRange:
            "a time interval's times, weekdays, days, months, years or dates are malformed or end before they start"
        case .muteScopeReadsTelemetry:
            "a `mute_during` entry's `where` reads telemetry; it may read inventory attributes only"
        case .conflictingTimeInterval: "a time interval is defined in two files with different entries"
        case .unusedTimeInterval: "a time interval is defined but no rule uses it"
        case .abortWithoutStale:
            "a rollout's `abort` gate without the rule's `stale` cannot count devices that go silent"
        case .unitlessAttribute: "a number attribute without a unit is compared with or added to a metric that has one"
        case .unitOnNonNumber: "an attribute that is not a number is given a unit"
        case .attributeWithoutValue:
            "a number attribute a rule compares is empty or not a number for some devices (`check --data`), so the rule never holds for them"
        case .unknownRouteTimeInterval:
            "a delivery route names a time interval that the delivery file's `time_intervals:` does not define"
        }
    }
}
