using System.Text;

namespace SharpLM.Chat;

/// <summary>Writes a <see cref="PartsChatTemplate"/> as a Hugging Face Jinja <c>chat_template</c>, so
/// <c>tokenizer.apply_chat_template</c> renders the same text SharpLM trains on.</summary>
/// <remarks>All on one line: text between Jinja tags would be output. Every template part is a quoted Jinja string,
/// so braces or percent signs in it are never read as Jinja. Hugging Face tokenizes the rendered text in one piece,
/// while SharpLM encodes each part on its own; the ids can differ where a byte-level merge would cross a part boundary.</remarks>
internal static class ChatTemplateJinja
{
    public static string Build(PartsChatTemplate template)
    {
        var jinja = new StringBuilder();
        if (template.AddBos) jinja.Append("{% if bos_token %}{{ bos_token }}{% endif %}");
        jinja.Append("{% for message in messages %}");
        jinja.Append("{% if message['role'] == 'system' %}").Append(Wrap(template.SystemPart));
        jinja.Append("{% elif message['role'] == 'user' %}").Append(Wrap(template.UserPart));
        jinja.Append("{% elif message['role'] == 'assistant' %}").Append(Literal(template.AssistantStart))
            .Append("{{ message['content'] }}").Append(Literal(template.AssistantEnd));
        if (template.EndWithEos) jinja.Append("{{ eos_token }}");
        jinja.Append(Literal(template.AfterAssistant));
        jinja.Append("{% else %}{{ raise_exception('unknown role: ' + message['role']) }}{% endif %}{% endfor %}");
        jinja.Append("{% if add_generation_prompt %}").Append(Literal(template.AssistantStart)).Append("{% endif %}");
        return jinja.ToString();
    }

    static string Wrap(string part)
    {
        int at = part.IndexOf(PartsChatTemplate.ContentPlaceholder, StringComparison.Ordinal);
        return Literal(part[..at]) + "{{ message['content'] }}" + Literal(part[(at + PartsChatTemplate.ContentPlaceholder.Length)..]);
    }

    /// <summary>The text as a Jinja expression that outputs it (nothing for "").</summary>
    static string Literal(string text)
    {
        if (text.Length == 0) return "";
        var quoted = new StringBuilder("{{ '");
        foreach (char c in text)
        {
            quoted.Append(c switch
            {
                '\\' => "\\\\",
                '\'' => "\\'",
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ => c.ToString(),
            });
        }
        return quoted.Append("' }}").ToString();
    }
}
