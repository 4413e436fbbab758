import ArgumentParser

/// The output formats of `matrix`: the report (text, JSON) or a picture of it.
enum MatrixFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, svg, html, dot
}
