import HTTPTypes

extension HTTPFields {
    /// `self[name]`, without the subscript's generic joining when the field appears once (the
    /// usual case): the subscript cost about 4,300 instructions a call, and a create made five
    /// (`bench/callgrind.py`). A field that appears more than once gets the subscript's answer,
    /// its values joined.
    func value(of name: HTTPField.Name) -> String? {
        var found: String?
        for field in self where field.name == name {
            if found != nil { return self[name] }
            found = field.value
        }
        return found
    }
}
