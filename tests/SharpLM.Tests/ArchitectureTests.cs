using Mono.Cecil;
using Mono.Cecil.Cil;
using Xunit;

namespace SharpLM.Tests;

/// <summary>The library's layers, bottom to top, and a check on its compiled code that each namespace uses only
/// namespaces below it or beside it, without cycles. A type counts as used when it appears anywhere in a type:
/// base types, fields, signatures, attributes, generic arguments or method bodies.</summary>
public sealed class ArchitectureTests
{
    static readonly string[][] Layers =
    [
        ["SharpLM", "SharpLM.IO", "SharpLM.Runtime"],
        ["SharpLM.Formats"],
        ["SharpLM.Model"],
        ["SharpLM.Tokenization"],
        ["SharpLM.Chat"],
        ["SharpLM.Data"],
        ["SharpLM.Training", "SharpLM.Adapters", "SharpLM.Generation", "SharpLM.Evaluation"],
        ["SharpLM.Hub"],
        ["SharpLM.Serving", "SharpLM.Reporting"],
    ];

    static readonly Lazy<Dictionary<string, HashSet<string>>> graph = new(() => NamespaceGraph(typeof(SharpLMException).Assembly.Location));

    static int Layer(string ns) => Array.FindIndex(Layers, l => l.Contains(ns));

    /// <summary>The namespace a type belongs to, sub-namespaces folded into the layer that holds them
    /// (SharpLM.Chat.Jinja into SharpLM.Chat).</summary>
    static string? LayerNamespace(TypeReference type)
    {
        while (type.DeclaringType is not null) type = type.DeclaringType;
        var ns = type.Namespace;
        if (ns != "SharpLM" && !ns.StartsWith("SharpLM.", StringComparison.Ordinal)) return null;
        // The root namespace holds only what every layer shares (SharpLMException): it takes in no sub-namespace.
        return Layers.SelectMany(l => l).Where(l => ns == l || (l != "SharpLM" && ns.StartsWith(l + ".", StringComparison.Ordinal)))
            .MaxBy(l => l.Length) ?? ns;
    }

    static Dictionary<string, HashSet<string>> NamespaceGraph(string assemblyPath)
    {
        using var module = ModuleDefinition.ReadModule(assemblyPath);
        var edges = new Dictionary<string, HashSet<string>>();
        foreach (var type in module.GetTypes())
        {
            if (LayerNamespace(type) is not { } from) continue;
            var uses = edges.TryGetValue(from, out var set) ? set : edges[from] = [];
            foreach (var used in UsedTypes(type))
                if (LayerNamespace(used) is { } to && to != from) uses.Add(to);
        }
        return edges;
    }

    static IEnumerable<TypeReference> UsedTypes(TypeDefinition type)
    {
        IEnumerable<TypeReference> Expand(TypeReference? t)
        {
            if (t is null) yield break;
            yield return t.GetElementType();
            if (t is GenericInstanceType g)
                foreach (var a in g.GenericArguments.SelectMany(Expand)) yield return a;
        }
        IEnumerable<TypeReference> OfAttributes(ICustomAttributeProvider p) =>
            p.HasCustomAttributes ? p.CustomAttributes.SelectMany(a => Expand(a.AttributeType)) : [];

        var found = new List<TypeReference>();
        found.AddRange(Expand(type.BaseType));
        found.AddRange(type.Interfaces.SelectMany(i => Expand(i.InterfaceType)));
        found.AddRange(OfAttributes(type));
        found.AddRange(type.Fields.SelectMany(f => Expand(f.FieldType).Concat(OfAttributes(f))));
        found.AddRange(type.Properties.SelectMany(p => Expand(p.PropertyType)));
        found.AddRange(type.Events.SelectMany(e => Expand(e.EventType)));
        foreach (var method in type.Methods)
        {
            found.AddRange(Expand(method.ReturnType));
            found.AddRange(method.Parameters.SelectMany(p => Expand(p.ParameterType)));
            found.AddRange(OfAttributes(method));
            if (!method.HasBody) continue;
            found.AddRange(method.Body.Variables.SelectMany(v => Expand(v.VariableType)));
            foreach (var instruction in method.Body.Instructions)
                found.AddRange(instruction.Operand switch
                {
                    TypeReference t => Expand(t),
                    MethodReference m => Expand(m.DeclaringType).Concat(Expand(m.ReturnType))
                        .Concat(m is GenericInstanceMethod gm ? gm.GenericArguments.SelectMany(Expand) : []),
                    FieldReference f => Expand(f.DeclaringType).Concat(Expand(f.FieldType)),
                    _ => [],
                });
        }
        return found;
    }

    [Fact]
    public void EveryNamespaceHasALayer()
    {
        var unplaced = graph.Value.Keys.Where(ns => Layer(ns) < 0).Order().ToList();
        Assert.True(unplaced.Count == 0, $"namespaces missing from the layer table: {string.Join(", ", unplaced)}");
    }

    [Fact]
    public void NamespacesUseOnlyLowerLayersOrTheirOwn()
    {
        var upward = graph.Value
            .SelectMany(kv => kv.Value.Where(to => Layer(to) > Layer(kv.Key)).Select(to => $"{kv.Key} -> {to}"))
            .Order().ToList();
        Assert.True(upward.Count == 0, $"uses of a higher layer:\n{string.Join("\n", upward)}");
    }

    [Fact]
    public void NamespacesFormNoCycle()
    {
        var cycles = new List<string>();
        foreach (var start in graph.Value.Keys.Order())
            if (PathBack(start) is { } path) cycles.Add(string.Join(" -> ", path));
        Assert.True(cycles.Count == 0, $"cycles:\n{string.Join("\n", cycles)}");
    }

    /// <summary>A path from <paramref name="start"/> through its uses back to itself, or null.</summary>
    static List<string>? PathBack(string start)
    {
        var seen = new HashSet<string>();
        List<string>? Search(string node, List<string> path)
        {
            foreach (var next in graph.Value.GetValueOrDefault(node, []).Order())
            {
                if (next == start) return [.. path, next];
                if (seen.Add(next) && Search(next, [.. path, next]) is { } found) return found;
            }
            return null;
        }
        return Search(start, [start]);
    }
}
