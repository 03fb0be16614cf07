//! `moonbox sim --report FILE.html`: one self-contained page with every
//! chart, the disabled mods and the console, with mods' text escaped.

use std::process::Command;

#[test]
fn the_report_holds_each_chart_and_escapes_what_mods_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    // A mod that writes markup to the console, then fails with more.
    let folder = path.join("mods").join("painter");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("mod.toml"), "name = 'painter'\nversion = '1'\n").unwrap();
    std::fs::write(
        folder.join("main.lua"),
        r#"function on_tick()
             print("<script>alert(1)</script>")
             if world:tick() == 3 then error("</pre><img src=x onerror=alert(2)>") end
           end"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .current_dir(path)
        .args(["sim", "--ticks", "20", "--report", "run.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let demo = std::fs::read_to_string(path.join("run.html")).unwrap();
    for heading in [
        "<h2>Fuel per tick</h2>",
        "<h2>Memory per tick (linear memory, peak)</h2>",
        "<h2>Entities</h2>",
        "<h2>Mods disabled</h2>",
        "<h2>The world at the end (Position)</h2>",
    ] {
        assert!(demo.contains(heading), "{heading}");
    }
    // Four charts, every mod in the fuel chart's legend, the hostile mod's
    // tick and reason, dots for the critters; nothing fetched from outside.
    assert_eq!(demo.matches("<svg").count(), 4);
    for name in ["hostile", "medic", "movement", "spawner"] {
        assert!(demo.contains(&format!("\n{name}\n</text>")), "{name}");
    }
    assert!(demo.contains("</td><td>hostile</td><td>security violation: no write permission"));
    assert!(demo.matches("<circle").count() >= 300);
    assert!(!demo.contains("http://") || !demo.contains("src=\"http"));
    assert!(!demo.contains("<script"));

    let out = Command::new(env!("CARGO_BIN_EXE_moonbox"))
        .current_dir(path)
        .args(["sim", "mods", "--ticks", "5", "--report", "painter.html"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(path.join("painter.html")).unwrap();
    assert!(
        !page.contains("<script") && !page.contains("<img"),
        "{page}"
    );
    assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(page.contains("&lt;/pre&gt;&lt;img src=x onerror=alert(2)&gt;"));
    assert!(
        page.contains("<td class=\"n\">3</td><td>painter</td>"),
        "{page}"
    );
    // The demo world, drawn.
    assert!(page.contains("<circle"));
}
